/**
 * Handler module for bench/e2e.ts with BENCH_HANDLERS=noop: completes every `order.#` message without
 * touching ctx.logger (the example module's order-audit handler logs each message at debug, which costs a
 * child logger per message even when debug is off). Measures the fleet without the handler's cost.
 */
import type { TopicRouter } from '@fleet/router';

export default function register(router: TopicRouter): void {
  router.subscribe('order.#', () => {}, { name: 'bench-noop' });
}
