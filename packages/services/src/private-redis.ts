import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackChild, trackDir } from './children.js';
import { ServiceUnavailableError } from './errors.js';
import { freePort } from './ports.js';
import { probeRedis, waitFor } from './probe.js';
import { which } from './which.js';

export interface PrivateRedisOptions {
  /** Persist with AOF (`appendonly yes`) so kill -9 + restart keeps the writes. */
  aof?: boolean;
  /**
   * AOF fsync policy with `aof`: `always` (default: every write on disk before the reply) or `everysec`
   * (what production runs: a crash of the machine may lose about the last second).
   */
  appendfsync?: 'always' | 'everysec';
  /** Fixed port; default a free one. */
  port?: number;
  /** Path to redis-server; default the first on PATH. */
  binary?: string;
  /** More redis-server arguments (e.g. cluster mode: private-redis-cluster.ts). */
  extraArgs?: readonly string[];
}

/** A redis-server of our own (temp dir, own port), for tests that stop, kill and restart Redis. */
export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly running: boolean;
  /** Graceful stop (SIGTERM: Redis flushes AOF and exits). Data dir kept for restart(). */
  stop(): Promise<void>;
  /** SIGKILL, like a crash. Data dir kept for restart(). */
  kill(): Promise<void>;
  /** Starts again on the same port and dir (stopping first if running); AOF data comes back. */
  restart(): Promise<void>;
  /** Stops and removes the temp dir. */
  dispose(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startPrivateRedis(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const binary = opts.binary ?? which('redis-server');
  if (!binary) {
    throw new ServiceUnavailableError(
      'no redis-server on PATH: install it (apt install redis-server / brew install redis) or run docker compose up -d redis',
    );
  }
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'fleet-redis-'));
  const untrackDir = trackDir(dir);
  const url = `redis://127.0.0.1:${port}`;
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--daemonize',
    'no',
    '--protected-mode',
    'no',
    '--logfile',
    '',
    ...(opts.aof
      ? ['--appendonly', 'yes', '--appendfsync', opts.appendfsync ?? 'always']
      : ['--appendonly', 'no']),
    ...(opts.extraArgs ?? []),
  ];
  let child: ChildProcess | undefined;
  let output = '';

  async function start(): Promise<void> {
    output = '';
    const proc = spawn(binary as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    trackChild(proc);
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    let spawnError: Error | undefined;
    proc.once('error', (err) => {
      spawnError = err;
    });
    const ready = await waitFor(
      async () => spawnError !== undefined || proc.exitCode !== null || (await probeRedis(url, 500)),
      START_TIMEOUT_MS,
    );
    if (!ready || spawnError || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      const last = output.trim().split('\n').pop();
      throw new ServiceUnavailableError(
        `private redis-server failed to start on port ${port}: ${spawnError?.message ?? (last || 'timeout')}`,
      );
    }
  }

  async function stopWith(signal: NodeJS.Signals): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    await exited(proc);
  }

  await start();
  return {
    url,
    port,
    dir,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    async restart() {
      await stopWith('SIGTERM');
      await start();
    },
    async dispose() {
      await stopWith('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
      untrackDir();
    },
  };
}
