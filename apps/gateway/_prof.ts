import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { messagingSystemSchema } from '@fleet/config';
import pino from 'pino';
import { startGateway } from './src/index.js';
const cfg = messagingSystemSchema.parse({
  network: { host: '127.0.0.1', port: 7999, max_in_flight: 4096 },
  redis: { key_prefix: 'fleet-prof-gw' },
});
const gw = await startGateway(cfg, { logger: pino({ level: 'silent' }) });
console.log('ready', gw.port);
const session = new Session(); session.connect();
let c0 = process.cpuUsage(); let a0 = 0;
setTimeout(async () => { c0 = process.cpuUsage(); a0 = gw.stats().acked; if (process.env.PROF) { await session.post('Profiler.enable'); await session.post('Profiler.start'); } }, 2500);
setTimeout(async () => {
  const c = process.cpuUsage(c0); const n = gw.stats().acked - a0;
  if (process.env.PROF) { const { profile } = await session.post('Profiler.stop'); writeFileSync('/tmp/steady.cpuprofile', JSON.stringify(profile)); }
  console.log(`gateway cpu us/msg ${((c.user + c.system) / n).toFixed(2)} (user ${(c.user / n).toFixed(2)} sys ${(c.system / n).toFixed(2)}) over ${n}`);
  await gw.close(); process.exit(0);
}, Number(process.argv[2] ?? 12) * 1000);
