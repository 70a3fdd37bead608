import { mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { censor, type FleetConfig, REDACT_PATHS, redactUrl } from '@fleet/config';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { TraceContext } from './context.js';

export type { Logger } from 'pino';
export type LogWriter = FleetConfig['logging']['writers'][number];
export type LogLevel = FleetConfig['logging']['level'];

export interface CreateLoggerOptions {
  /** App or module name, written as `name` on every line. */
  name: string;
  level?: string;
  /** Where lines go (config logging.writers); default console. */
  writers?: LogWriter[];
  /** Buffer writes off the hot path (flushLogger/closeLogger on shutdown). Default false. */
  async?: boolean;
  /** Extra fields on every line. */
  base?: object;
  /** Force pretty console output on/off (default: pretty when stdout is a TTY). */
  pretty?: boolean;
}

interface Sink {
  stream: DestinationStream;
  /** Flush buffered lines to the OS (or to the transport worker). */
  flush(): Promise<void>;
  /** Flush and release; transports finish writing before this resolves. */
  close(): Promise<void>;
}

interface LoggerState {
  sinks: Sink[];
  children: Set<WeakRef<Logger>>;
  added: number;
}

const states = new WeakMap<Logger, LoggerState>();
const require = createRequire(import.meta.url);
const EMPTY = Object.freeze({});

/** Adds the current message's trace to every line (cheap: one ALS lookup). */
function traceMixin(): object {
  const t = TraceContext.get();
  return t === undefined ? EMPTY : { trace_id: t.traceId, span_id: t.spanId };
}

/** Error serializer that also strips credentials from message and stack. */
function errSerializer(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (out && typeof out === 'object') {
    if (typeof out.message === 'string') out.message = redactUrl(out.message);
    if (typeof out.stack === 'string') out.stack = redactUrl(out.stack);
  }
  return out;
}

type SonicBoomLike = DestinationStream & {
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
  end(): void;
  once(event: string, cb: (...a: unknown[]) => void): void;
  destroyed?: boolean;
  _len?: number;
};

/** Async mode buffers this much before a write; a timer flushes quieter periods. */
const ASYNC_MIN_LENGTH = 4096;
const ASYNC_FLUSH_MS = 1000;

function destination(dest: number | string, sync: boolean): SonicBoomLike {
  if (typeof dest === 'string' && !sync) {
    // Open the file now (SonicBoom would open it asynchronously): lines logged right before an
    // early exit then have an fd to be flushed to.
    mkdirSync(dirname(dest), { recursive: true });
    dest = openSync(dest, 'a');
  }
  const opts = sync ? { dest, sync: true, mkdir: true } : { dest, sync: false, minLength: ASYNC_MIN_LENGTH };
  return pino.destination(opts) as unknown as SonicBoomLike;
}

// Last resort when the process exits without closeLogger: write async buffers synchronously.
// One process listener for all loggers (tests create many).
const flushOnExit = new Set<SonicBoomLike>();
process.once('exit', () => {
  for (const stream of flushOnExit) {
    try {
      if (!stream.destroyed && stream._len) stream.flushSync();
    } catch {
      // fd not open: nothing can be written any more
    }
  }
});

function sonicSink(stream: SonicBoomLike, sync: boolean, closeFd: boolean): Sink {
  // With minLength > 0, SonicBoom's flush(cb) waits until the buffer is written (and fsynced).
  const flush = () =>
    new Promise<void>((resolve) => {
      if (sync || stream.destroyed) return resolve();
      try {
        stream.flush(() => resolve());
      } catch {
        resolve();
      }
    });
  const timer = sync
    ? undefined
    : setInterval(() => {
        if (stream.destroyed || !stream._len) return;
        try {
          stream.flush();
        } catch {
          // not open yet: the next tick retries
        }
      }, ASYNC_FLUSH_MS).unref();
  if (!sync) flushOnExit.add(stream);
  return {
    stream,
    flush,
    close: async () => {
      if (timer) clearInterval(timer);
      flushOnExit.delete(stream);
      await flush();
      if (!closeFd || stream.destroyed) return;
      await new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.end();
      });
    },
  };
}

function transportSink(target: string, options: object): Sink {
  const stream = pino.transport({ target, options }) as unknown as SonicBoomLike & { closed?: boolean };
  const flush = () =>
    new Promise<void>((resolve) => {
      try {
        stream.flush(() => resolve());
      } catch {
        resolve();
      }
    });
  return {
    stream,
    flush,
    close: async () => {
      if (stream.closed) return;
      await new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.end();
      });
    },
  };
}

function makeSink(w: LogWriter, sync: boolean, prettyConsole: boolean): Sink {
  switch (w.type) {
    case 'console': {
      if (prettyConsole) {
        const p = pretty({ colorize: true, sync, translateTime: 'SYS:HH:MM:ss.l' });
        return {
          stream: p,
          flush: async () => {},
          close: async () => {},
        };
      }
      return sonicSink(destination(1, sync), sync, false);
    }
    case 'file':
      return sonicSink(destination(w.path, sync), sync, true);
    case 'rotating_file': {
      // pino-roll runs in pino's transport worker thread; resolve it here so the worker finds it
      // whatever the caller's directory is.
      const options: Record<string, unknown> = { file: w.path, mkdir: true };
      if (w.frequency) options.frequency = w.frequency;
      if (w.size) options.size = w.size;
      if (w.limit) options.limit = { count: w.limit };
      return transportSink(require.resolve('pino-roll'), options);
    }
  }
}

/** A pino logger configured from the fleet's logging section. */
export function createLogger(opts: CreateLoggerOptions): Logger {
  const writers = opts.writers && opts.writers.length > 0 ? opts.writers : [{ type: 'console' as const }];
  const sync = opts.async !== true;
  const prettyConsole = opts.pretty ?? process.stdout.isTTY === true;
  const sinks = writers.map((w) => makeSink(w, sync, prettyConsole));
  const state: LoggerState = { sinks, children: new Set(), added: 0 };

  const options: LoggerOptions = {
    name: opts.name,
    level: opts.level ?? 'info',
    base: { pid: process.pid, ...(opts.base ?? {}) },
    mixin: traceMixin,
    // pino's default merge writes into the mixin result: keep the shared empty object untouched.
    mixinMergeStrategy: (mergeObject, mixinObject) =>
      mixinObject === EMPTY ? mergeObject : Object.assign(mixinObject, mergeObject),
    redact: { paths: REDACT_PATHS, censor },
    serializers: { err: errSerializer, error: errSerializer },
    // Remember children so setLogLevel reaches loggers created before a reload.
    onChild: (child: Logger) => {
      state.children.add(new WeakRef(child));
      if (++state.added % 1024 === 0) pruneChildren(state);
    },
  };
  const stream =
    sinks.length === 1
      ? sinks[0]!.stream
      : pino.multistream(sinks.map((s) => ({ stream: s.stream, level: 'trace' as const })));
  const logger = pino(options, stream);
  states.set(logger, state);
  return logger;
}

function pruneChildren(state: LoggerState): void {
  for (const ref of state.children) if (ref.deref() === undefined) state.children.delete(ref);
}

/** Changes the level of a logger made by createLogger and of every child made from it. */
export function setLogLevel(logger: Logger, level: string): void {
  logger.level = level;
  const state = states.get(logger);
  if (!state) return;
  for (const ref of state.children) {
    const child = ref.deref();
    if (child === undefined) state.children.delete(ref);
    else child.level = level;
  }
}

/** Writes out buffered lines of every writer (file and rotating writers included). */
export async function flushLogger(logger: Logger): Promise<void> {
  const state = states.get(logger);
  if (!state) {
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    return;
  }
  await Promise.all(state.sinks.map((s) => s.flush()));
}

/** flushLogger, then closes files and stops transport workers: call last on clean shutdown. */
export async function closeLogger(logger: Logger): Promise<void> {
  const state = states.get(logger);
  if (!state) return flushLogger(logger);
  await Promise.all(state.sinks.map((s) => s.close()));
}
