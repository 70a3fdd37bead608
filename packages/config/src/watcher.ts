import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import { diffConfig, keepFields } from './diff.js';
import { ConfigError } from './errors.js';
import { deepFreeze } from './freeze.js';
import { parseConfig, readConfigText } from './load.js';
import type { FleetConfig } from './schema.js';

/** Anything with pino-style info/warn/error taking a message string (pino loggers and console fit). */
export interface ConfigLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface ConfigWatcherOptions {
  /** Environment for overrides (captured once); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  logger?: ConfigLogger;
  /** Called with the ConfigError of each rejected file (the last good config stays current). */
  onInvalid?: (err: ConfigError) => void;
  /** Called after each reload attempt, e.g. to count it in a metric. `durationMs`: first fs event -> done. */
  onReload?: (ok: boolean, durationMs: number) => void;
  /** Quiet time after the last fs event before the file is read (default 3 ms). */
  debounceMs?: number;
  /** When a new file is invalid, re-read once after this delay in case a writer was mid-write (default 25 ms). */
  settleMs?: number;
}

export type ConfigListener = (cfg: FleetConfig, changedKeys: string[]) => void;

const stderrLogger: ConfigLogger = {
  info: () => {},
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Hot reload of one config file. Watches the file's DIRECTORY (chokidar, raw fs events included), so
 * saves by rename (vim, atomic writers) and a Kubernetes ConfigMap `..data` symlink swap are seen.
 * No awaitWriteFinish (its 2000 ms window): events are debounced 3 ms, the file is re-read, and
 * nothing happens when its text is unchanged.
 * - invalid file: the last good config stays, one error is logged, `failures` counts it;
 * - restart-only fields that changed: one warning, and the delivered config keeps their old value;
 * - live fields that changed: listeners get the new config and the dotted paths of those fields.
 * The constructor loads the file synchronously and throws ConfigError when it is invalid.
 */
export class ConfigWatcher {
  readonly path: string;
  reloads = 0;
  failures = 0;

  private readonly env: NodeJS.ProcessEnv;
  private readonly logger: ConfigLogger;
  private readonly opts: ConfigWatcherOptions;
  private readonly listeners = new Set<ConfigListener>();
  private cfg: FleetConfig;
  private lastText: string | undefined;
  private fsw: FSWatcher | undefined;
  private readyPromise: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private firstEventAt: number | undefined;
  private running: Promise<void> | undefined;
  private rerun = false;
  private stopped = false;
  private warnedRestart = new Map<string, string>();

  constructor(path: string, opts: ConfigWatcherOptions = {}) {
    this.path = path;
    this.opts = opts;
    this.env = { ...(opts.env ?? process.env) };
    this.logger = opts.logger ?? stderrLogger;
    const text = readConfigText(path);
    this.cfg = parseConfig(text, { file: path, env: this.env });
    this.lastText = text;
  }

  /** The config in force (frozen). */
  get current(): FleetConfig {
    return this.cfg;
  }

  /** Subscribes to applied changes; starts watching on first use. Returns the unsubscribe function. */
  watch(callback: ConfigListener): () => void {
    this.listeners.add(callback);
    this.start();
    return () => {
      this.listeners.delete(callback);
    };
  }

  /** Resolves once the file system watch is in place (changes made after this are seen). */
  ready(): Promise<void> {
    this.start();
    return this.readyPromise!;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.listeners.clear();
    const fsw = this.fsw;
    this.fsw = undefined;
    await fsw?.close();
    await this.running;
  }

  private start(): void {
    if (this.fsw || this.stopped) return;
    const file = resolve(this.path);
    const dir = dirname(file);
    const name = basename(file);
    const fsw = chokidarWatch(dir, {
      depth: 0,
      ignoreInitial: true,
      followSymlinks: false,
      atomic: false, // its 100 ms unlink delay and dot-file filter would hide ConfigMap `..data` swaps
      persistent: true,
      // Only the file itself and ConfigMap's `..data`/`..<timestamp>` entries matter.
      ignored: (p: string) => p !== dir && basename(p) !== name && !basename(p).startsWith('..'),
    });
    this.fsw = fsw;
    // Raw events arrive before chokidar's own throttling (50 ms per change, 1 s per readdir).
    fsw.on('raw', () => this.schedule());
    fsw.on('all', () => this.schedule());
    fsw.on('error', (err) => this.logger.warn(`config watcher (${this.path}): ${(err as Error).message}`));
    this.readyPromise = new Promise((r) => fsw.once('ready', () => r()));
  }

  private schedule(): void {
    if (this.stopped) return;
    this.firstEventAt ??= performance.now();
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, this.opts.debounceMs ?? 3);
  }

  private kick(): void {
    if (this.running) {
      this.rerun = true;
      return;
    }
    const startedAt = this.firstEventAt ?? performance.now();
    this.firstEventAt = undefined;
    this.running = this.reload(startedAt)
      .catch((err) => this.logger.error(`config reload (${this.path}) crashed: ${(err as Error).message}`))
      .finally(() => {
        this.running = undefined;
        if (this.rerun && !this.stopped) {
          this.rerun = false;
          this.kick();
        }
      });
  }

  private async readText(): Promise<string | ConfigError> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return new ConfigError([
        `${this.path}: ${code === 'ENOENT' ? 'file does not exist' : `cannot read file (${code})`}`,
      ]);
    }
  }

  private parse(text: string | ConfigError): FleetConfig | ConfigError {
    if (text instanceof ConfigError) return text;
    try {
      return parseConfig(text, { file: this.path, env: this.env });
    } catch (err) {
      if (err instanceof ConfigError) return err;
      return new ConfigError([`${this.path}: ${(err as Error).message.split('\n')[0]}`]);
    }
  }

  private async reload(startedAt: number): Promise<void> {
    let text = await this.readText();
    if (text === this.lastText || this.stopped) return;
    let next = this.parse(text);
    if (next instanceof ConfigError) {
      // A writer may be mid-write (truncated file) or mid-swap (missing file): look once more.
      await sleep(this.opts.settleMs ?? 25);
      if (this.stopped) return;
      const again = await this.readText();
      if (again !== text) {
        text = again;
        if (text === this.lastText) return;
        next = this.parse(text);
      }
    }
    if (typeof text === 'string') this.lastText = text;
    else this.lastText = undefined; // a missing file that comes back with the same text must reload

    if (next instanceof ConfigError) {
      this.failures++;
      this.logger.error(
        `config ${this.path} rejected, keeping the last good config: ${next.problems.join('; ')}`,
      );
      this.opts.onInvalid?.(next);
      this.opts.onReload?.(false, performance.now() - startedAt);
      return;
    }

    const before = this.cfg;
    const { live, restart } = diffConfig(before, next);
    const pending = restart.filter((k) => {
      const v = JSON.stringify(getPath(next, k));
      if (this.warnedRestart.get(k) === v) return false;
      this.warnedRestart.set(k, v);
      return true;
    });
    // A field put back to its running value may warn again if it changes later.
    for (const k of [...this.warnedRestart.keys()]) if (!restart.includes(k)) this.warnedRestart.delete(k);
    if (pending.length > 0) {
      this.logger.warn(
        `config ${this.path}: restart-only fields changed, not applied until restart: ${pending.join(', ')}`,
      );
    }
    this.cfg = restart.length > 0 ? deepFreeze(keepFields(before, next, restart)) : next;
    this.reloads++;
    if (live.length > 0) {
      this.logger.info(`config ${this.path} reloaded: ${live.join(', ')}`);
      for (const listener of [...this.listeners]) {
        try {
          listener(this.cfg, [...live]);
        } catch (err) {
          this.logger.error(`config listener failed: ${(err as Error).message}`);
        }
      }
    }
    this.opts.onReload?.(true, performance.now() - startedAt);
  }
}

function getPath(cfg: unknown, key: string): unknown {
  let v = cfg;
  for (const seg of key.split('.'))
    v = v === null || typeof v !== 'object' ? undefined : (v as Record<string, unknown>)[seg];
  return v;
}
