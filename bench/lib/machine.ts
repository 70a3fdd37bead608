import os from 'node:os';

/** What a benchmark's figures were measured on, for its table (text) and its JSON line (json). */
export function machine(): {
  text: string;
  json: { cpu: string; cores: number; node: string; load1: number };
} {
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown cpu';
  const cores = os.cpus().length;
  const load1 = Math.round(os.loadavg()[0]! * 10) / 10;
  return {
    text: `machine: ${cpu}, ${cores} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${os.platform()} ${os.release()}, load ${load1}`,
    json: { cpu, cores, node: process.version, load1 },
  };
}
