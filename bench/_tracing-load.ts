/**
 * Long-lived load generator for bench/tracing.ts (its own process, so it does not share the gateway's
 * event loop, and started once so phases do not pay a process start-up): reads one LoadOptions JSON per
 * stdin line, runs @fleet/client runLoad with it, and answers one LoadResult JSON line on stdout.
 */
import { createInterface } from 'node:readline';
import { type LoadOptions, runLoad } from '@fleet/client';

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  try {
    const result = await runLoad(JSON.parse(line) as LoadOptions);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
  }
}
process.exit(0);
