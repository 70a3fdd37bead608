import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

const r = new Redis();
const lua = readFileSync(new URL('./src/scripts/xadd-batch.lua', import.meta.url), 'utf8');
r.defineCommand('xb', { numberOfKeys: 1, lua });
async function cpu() {
  const s = await r.info('cpu');
  const u = Number(/used_cpu_user:([\d.]+)/.exec(s)![1]);
  const y = Number(/used_cpu_sys:([\d.]+)/.exec(s)![1]);
  return u + y;
}
const env = Buffer.alloc(170, 0x61);
const N = 200_000,
  B = 1000;
const key = 'fleet-cpu-test:{s}';
let c0 = await cpu();
for (let done = 0; done < N; done += B * 4) {
  await Promise.all(
    [0, 1, 2, 3].map(() => {
      const p = r.pipeline();
      for (let i = 0; i < B; i++)
        p.xadd(
          key,
          '*',
          'e',
          env,
          'i',
          `id-${i}-abcdefabcdefabcdefabcdefabcdef`,
          't',
          '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
          'a',
          '1732712345678',
        );
      return p.exec();
    }),
  );
}
let c1 = await cpu();
console.log('pipelined xadd: redis cpu us/msg', (((c1 - c0) / N) * 1e6).toFixed(2));
await r.del(key);
c0 = await cpu();
for (let done = 0; done < N; done += B * 4) {
  await Promise.all(
    [0, 1, 2, 3].map(() => {
      const args: (string | Buffer)[] = ['e', 'i', 't', 'r', 'd', 'a', '1732712345678'];
      for (let i = 0; i < B; i++)
        args.push(
          env,
          `id-${i}-abcdefabcdefabcdefabcdefabcdef`,
          '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
          '',
          '',
        );
      return (r as any).xb(key, args);
    }),
  );
}
c1 = await cpu();
console.log('lua batch: redis cpu us/msg', (((c1 - c0) / N) * 1e6).toFixed(2));
await r.del(key);
r.disconnect();
