/**
 * Load generator process for bench/gateway.ts (kept out of the gateway's process so the two do not share an
 * event loop). Usage: node --import ./scripts/register-ts.mjs bench/_gateway-load.ts '<LoadOptions JSON>'. Progress lines go to
 * stderr; the LoadResult is printed as one JSON line on stdout.
 */
import { type LoadOptions, runLoad } from '@fleet/client';

const opts = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
const result = await runLoad({
  ...opts,
  onProgress: (p) =>
    process.stderr.write(
      `  ${opts.connections} conns  t=${p.elapsedS.toFixed(0)}s  ${Math.round(p.ackedPerS).toLocaleString('en-US')} acked/s  in flight ${p.inFlight}\n`,
    ),
});
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
