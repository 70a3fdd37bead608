import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackDir, trackPid } from './children.js';
import { ServiceUnavailableError } from './errors.js';
import { freePort } from './ports.js';
import { findPostgresBin } from './which.js';

export interface PrivatePostgresOptions {
  /** Directory holding initdb and pg_ctl; default PATH, then /usr/lib/postgresql/<version>/bin. */
  binDir?: string;
  port?: number;
  /**
   * Server settings, each passed as `-c name=value` at every start (e.g. `{ autovacuum: 'off' }`): tests of
   * behaviour that depends on one, whatever the shared server's configuration. Values are plain words
   * (pg_ctl hands the options to a shell).
   */
  settings?: Record<string, string>;
  /** Environment of the server on top of this process's (e.g. glibc's MALLOC_* tunables). */
  env?: Record<string, string>;
}

/** A Postgres cluster of our own (initdb in a temp dir, trust auth, own port), for fault tests. */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** The postmaster's pid while it runs (benchmarks read its processes' CPU from /proc). */
  pid(): number | undefined;
  /** `pg_ctl stop -m fast`; data kept. */
  stop(): Promise<void>;
  /** `pg_ctl start` on the same port and data dir. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** SIGKILL the postmaster, like a crash (the next start() runs crash recovery). */
  kill(): Promise<void>;
  /** Stops and removes the data dir. */
  dispose(): Promise<void>;
}

interface RunAs {
  uid: number;
  gid: number;
}

/** initdb refuses to run as root: when we are root, run the cluster as the `postgres` system user. */
function runAsFor(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid, gid] = line.split(':');
      if (name === 'postgres') return { uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // no passwd file: fall through
  }
  return undefined;
}

/** Alive and not a zombie (pg_ctl daemonizes the postmaster, so no one here reaps it). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

function run(
  file: string,
  args: string[],
  runAs: RunAs | undefined,
  timeoutMs = 60_000,
  env: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, ...(runAs ?? {}), env: { ...process.env, ...env, LC_ALL: 'C', LANG: 'C' } },
      (err, stdout, stderr) => {
        if (err) {
          const detail = `${stderr}`.trim().split('\n').pop() || err.message.split('\n')[0];
          reject(new Error(`${file.split('/').pop()} failed: ${detail}`));
        } else resolve(stdout);
      },
    );
  });
}

export async function startPrivatePostgres(opts: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = opts.binDir ?? findPostgresBin();
  if (!bin) {
    throw new ServiceUnavailableError(
      'no initdb/pg_ctl on PATH or under /usr/lib/postgresql: install PostgreSQL (apt install postgresql / brew install postgresql) or run docker compose up -d postgres',
    );
  }
  const runAs = runAsFor();
  if (process.getuid?.() === 0 && !runAs) {
    throw new ServiceUnavailableError(
      'cannot run a private Postgres as root without a "postgres" system user: create one or set FLEET_DATABASE_URL',
    );
  }
  const settings = Object.entries(opts.settings ?? {}).map(([name, value]) => {
    if (!/^[\w.]+$/.test(name) || !/^[\w.:-]+$/.test(value))
      throw new Error(`private Postgres: setting ${name}=${value} is not a plain word`);
    return ` -c ${name}=${value}`;
  });
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'fleet-pg-'));
  const untrackDir = trackDir(dir);
  const data = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  mkdirSync(data, { mode: 0o700 });
  mkdirSync(socketDir);
  if (runAs) for (const d of [dir, data, socketDir]) chownSync(d, runAs.uid, runAs.gid);

  const pgCtl = join(bin, 'pg_ctl');
  const logFile = join(dir, 'postgres.log');
  // fsync=off: a crash of the postgres process (kill -9) still loses nothing, only an OS crash would.
  const serverOptions = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off${settings.join('')}`;
  let untrackPid: (() => void) | undefined;

  try {
    await run(
      join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'],
      runAs,
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    untrackDir();
    throw new ServiceUnavailableError(`private Postgres: ${(err as Error).message}`);
  }

  function postmasterPid(): number | undefined {
    try {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async function start(): Promise<void> {
    // Right after a kill -9 the old backends may still hold the shared memory for a moment: retry.
    for (let attempt = 0; ; attempt++) {
      try {
        await run(
          pgCtl,
          ['-D', data, '-l', logFile, '-o', serverOptions, '-w', '-t', '60', 'start'],
          runAs,
          60_000,
          opts.env,
        );
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const pid = postmasterPid();
    untrackPid?.();
    untrackPid = pid ? trackPid(pid) : undefined;
  }

  async function stop(): Promise<void> {
    if (postmasterPid() === undefined) return;
    await run(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop'], runAs).catch(() => {});
    untrackPid?.();
    untrackPid = undefined;
  }

  try {
    await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    untrackDir();
    throw new ServiceUnavailableError(`private Postgres: ${(err as Error).message} (log: ${logFile})`);
  }

  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    pid: postmasterPid,
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
    async kill() {
      const pid = postmasterPid();
      if (pid === undefined) return;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return;
      }
      // Wait for the postmaster to be gone; its children exit on their own when it dies.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && isAlive(pid)) await new Promise((r) => setTimeout(r, 20));
      untrackPid?.();
      untrackPid = undefined;
    },
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      untrackDir();
    },
  };
}
