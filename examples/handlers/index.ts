/**
 * Example handler module, listed in config/fleet.yaml as `handlers.modules`. A module exports a default
 * (or `register`) function that subscribes handlers on the router it is given; the worker calls it at
 * start and again when the module list changes on reload.
 *
 * Topics used by the docs and the end-to-end tests:
 *   order.#       event: log every order event (order, order.created, order.eu.shipped, ...)
 *   cmd.email.send command: validates its payload, "sends" it (honours the abort signal)
 *   math.add      request/reply: `{"a":1,"b":2}` -> `3` (the return value is the reply)
 *   poison.#      always throws: the message FAILs, is retried, and goes DEAD after retry.max_retries
 *   bench.#       no-op: `fleet bench` (topic bench.load) against this fleet completes its traffic
 */
import type { HandlerContext, TopicRouter } from '@fleet/router';
import type { HandlerModuleContext } from '@fleet/worker';

export default function register(router: TopicRouter, { logger }: HandlerModuleContext): void {
  // Event: several handlers may match one topic; this one sees every order event.
  router.subscribe(
    'order.#',
    (ctx) => {
      ctx.logger.debug({ bytes: ctx.payload.byteLength }, 'order event');
    },
    { name: 'order-audit' },
  );

  // Command: high priority, filtered to messages that carry a recipient header; async work stops on abort.
  router.subscribe('cmd.email.send', sendEmail, {
    name: 'email-sender',
    priority: 8,
    timeoutMs: 5_000,
    filter: (env) => env.headers.to !== undefined,
  });

  // Request/reply: the handler's return value goes back to the requesting client.
  router.subscribe('math.add', (ctx) => {
    const { a, b } = ctx.json<{ a: number; b: number }>();
    if (typeof a !== 'number' || typeof b !== 'number')
      throw new Error('math.add wants {"a": number, "b": number}');
    return a + b;
  });

  // Poison: every message fails (exercises FAILED -> retries -> DEAD).
  router.subscribe('poison.#', () => {
    throw new Error('poison message');
  });

  // Load: `fleet bench` publishes to bench.load; without a handler every bench message would go DEAD.
  router.subscribe('bench.#', () => {}, { name: 'bench-sink' });

  logger.info({ subscriptions: router.size }, 'example handlers registered');
}

async function sendEmail(ctx: HandlerContext): Promise<void> {
  const to = ctx.envelope.headers.to;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, 5); // stands in for an SMTP call
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(ctx.signal.reason);
    });
  });
  ctx.logger.info({ to }, 'email sent');
}
