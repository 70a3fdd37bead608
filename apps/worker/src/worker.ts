import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ConfigWatcher, FleetConfig } from '@fleet/config';
import { createRegistry, type Registry, TopicLabeler, workerMetrics } from '@fleet/metrics';
import { Backoff, LogLimiter } from '@fleet/pressure';
import { decodeJobData, encodeJobData, FleetKeys, type JobData } from '@fleet/protocol';
import { createRedis, type FleetRedis } from '@fleet/redis';
import { TopicRouter } from '@fleet/router';
import { closeLogger, createLogger, type Logger, setLogLevel, type Telemetry } from '@fleet/tracing';
import { type Job, WaitingError, type Worker } from 'bullmq';
import { processBatch } from './batch.js';
import { gateJobFetches, wakeMainLoop } from './bullmq-internals.js';
import { HandlerLoadError, loadHandlerModules } from './handler-loader.js';
import { WorkerInstruments } from './instruments.js';
import { BatchWorker } from './job-data.js';
import { JobGate } from './job-gate.js';
import { Semaphore } from './semaphore.js';

export interface StartWorkerOptions {
  /** Base subscriptions (tests, embedding); handler modules from the config are added to a copy of it. */
  router?: TopicRouter;
  /** Directory handler module paths are relative to (the config file's). Default: cwd. */
  handlersBaseDir?: string;
  /** Default: a logger made from cfg.logging (closed by close()). */
  logger?: Logger;
  /** Name stored on the jobs this worker takes (default `<host>-<pid>-<random>`). */
  workerId?: string;
  /** Applies live changes of the config file (concurrency, queue_size, handler modules, timeouts, log level). */
  watcher?: ConfigWatcher;
  /** OpenTelemetry tracer for the per-message handler span (default: none recorded). */
  tracer?: Telemetry['tracer'];
}

export interface WorkerApp {
  readonly id: string;
  /** The worker's Prometheus registry (the process bootstrap, @fleet/app, serves it on /metrics). */
  readonly registry: Registry;
  /** Ready for /readyz: Redis connected and the job loop running. */
  healthy(): boolean;
  /** The config in force (live fields follow reloads). */
  config(): FleetConfig;
  /** The router in force (replaced when the handler module list changes). */
  router(): TopicRouter;
  /** Shards whose queues this process consumes (queue.consume_shards, or all). */
  readonly shards: readonly number[];
  /** BullMQ concurrency: jobs this process runs at once, over all its shard Workers. */
  setConcurrency(n: number): void;
  readonly concurrency: number;
  /** Loads a new handler module list into a fresh router; on failure logs it and keeps the running set. */
  reloadHandlers(modules: readonly string[]): Promise<boolean>;
  /** Stops taking jobs, lets in-flight ones finish up to handlers.shutdown_timeout_ms, aborts the rest. */
  close(): Promise<void>;
}

/** queue.consume_shards names a shard the fleet does not have (one line, at start). */
export class ConsumeShardsError extends Error {
  override name = 'ConsumeShardsError';
}

/** The shards this worker consumes: queue.consume_shards (deduplicated, sorted), or every shard. */
export function consumedShards(cfg: FleetConfig): number[] {
  const all = cfg.streams.shards;
  const wanted = cfg.queue.consume_shards;
  if (wanted.length === 0) return Array.from({ length: all }, (_, i) => i);
  const bad = wanted.filter((n) => n >= all);
  if (bad.length > 0)
    throw new ConsumeShardsError(
      `queue.consume_shards: ${bad.join(', ')} not below streams.shards (${all}): shards are 0..${all - 1}`,
    );
  return [...new Set(wanted)].sort((a, b) => a - b);
}

/**
 * A `queue`-role connection (maxRetriesPerRequest null, as BullMQ requires) with rate-limited error lines.
 * The command connection (status XADDs, replies) takes the same role on purpose: a command waits out a
 * Redis outage or a failover instead of failing the job after one retry, as the worker always did.
 */
function redisConnection(cfg: FleetConfig, logger: Logger, role: string): FleetRedis {
  const redis = createRedis(cfg.redis, 'queue');
  let lastLogged = 0;
  redis.on('error', (err) => {
    // One line per 5 s per connection while Redis is away; never the URL (it may hold a password).
    if (Date.now() - lastLogged < 5_000) return;
    lastLogged = Date.now();
    logger.warn({ role, error: err.message }, 'redis connection error');
  });
  return redis;
}

/**
 * Starts a worker process's BullMQ Workers, one per consumed shard queue (`keys.bullPrefix(n)`, each with
 * its own blocking connection). Resolves once handlers are loaded and every Worker is connected; rejects
 * with HandlerLoadError (one line) when a handler module cannot be loaded, ConsumeShardsError when
 * queue.consume_shards names a shard the fleet does not have.
 * The metrics server and the ready line are the process's (main.ts, @fleet/app).
 */
/** A worker's id: `<hostname>-<pid>-<6 hex>`. */
export function newWorkerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export async function startWorker(initial: FleetConfig, opts: StartWorkerOptions = {}): Promise<WorkerApp> {
  let cfg = initial;
  const shards = consumedShards(cfg);
  const ownLogger = !opts.logger;
  const logger =
    opts.logger ??
    createLogger({
      name: 'worker',
      level: cfg.logging.level,
      writers: cfg.logging.writers,
      async: cfg.logging.async,
    });
  const id = opts.workerId ?? newWorkerId();
  const keys = new FleetKeys(cfg.redis.key_prefix, cfg.streams.shards);
  const baseRouter = opts.router ?? new TopicRouter();
  const baseDir = opts.handlersBaseDir ?? process.cwd();

  const buildRouter = async (modules: readonly string[], config: FleetConfig): Promise<TopicRouter> => {
    const r = baseRouter.clone();
    await loadHandlerModules(r, modules, baseDir, {
      logger: logger.child({ component: 'handlers' }),
      config,
    });
    return r;
  };
  let router: TopicRouter;
  try {
    router = await buildRouter(cfg.handlers.modules, cfg);
  } catch (err) {
    if (ownLogger) await closeLogger(logger);
    throw err;
  }
  if (router.size === 0) logger.warn('no handler subscriptions: every message will be unrouted');

  const registry = createRegistry({ app: 'worker', enabled: cfg.monitoring.enabled });
  const metrics = workerMetrics(registry);
  const labelerOptions = (c: FleetConfig) => ({
    topicLabels: c.monitoring.topic_labels,
    segments: c.monitoring.topic_label_segments,
    maxLabels: c.monitoring.max_topic_labels,
  });
  const labeler = new TopicLabeler(labelerOptions(cfg));
  const instruments = new WorkerInstruments(metrics, labeler);
  const slots = new Semaphore(cfg.thread_pools.work.queue_size);
  const shutdown = new AbortController();
  const commands = redisConnection(cfg, logger, 'commands');
  // Shared by the shard Workers for their non-blocking commands; BullMQ gives each Worker its own
  // blocking duplicate.
  const bullConnection = redisConnection(cfg, logger, 'bullmq');

  const deps = {
    config: () => cfg,
    router: () => router,
    redis: commands,
    keys,
    slots,
    logger,
    shutdown: shutdown.signal,
    instruments,
    ...(opts.tracer ? { tracer: opts.tracer } : {}),
  };

  const processor =
    (shard: number) =>
    async (job: Job<JobData>, token?: string): Promise<void> => {
      const messages = decodeJobData(job.data);
      if (!messages) {
        logger.error({ job_id: job.id, shard }, 'job data is not a fleet batch; skipped');
        return;
      }
      const { unfinished } = await processBatch(messages, deps, shard);
      if (unfinished.length === 0) return;
      // Shutdown cut these short: hand them back to the queue at once (another worker takes them).
      await job.updateData(encodeJobData(unfinished));
      await job.moveToWait(token);
      logger.info({ job_id: job.id, messages: unfinished.length }, 'job returned to the queue on shutdown');
      throw new WaitingError();
    };

  /*
   * thread_pools.work.workers is the process's concurrency, over all its shard Workers. Each shard Worker
   * gets the whole of it as its BullMQ concurrency (so one busy shard can use every slot while the others
   * are idle), and with more than one shard Worker a process-wide JobGate of that size is taken before
   * each job is moved to active and given back when it is finished (bullmq-internals.ts gateJobFetches).
   * So the process never runs more jobs at once than configured; a Worker waiting on an empty queue holds
   * no slot (an idle shard starves no one); busy shards queue for slots first come first served (they take
   * turns); and no job is locked while it waits for a slot (another process could run it). A static split
   * (workers / shards each) was rejected: it starves a busy shard while others idle, and cannot go below
   * one per Worker. With one shard Worker nothing is gated: exactly the single-queue worker of before.
   */
  const gate = shards.length > 1 ? new JobGate(cfg.thread_pools.work.workers) : undefined;
  const newWorker = (shard: number) => {
    const worker = new BatchWorker(cfg.queue.name, processor(shard), {
      connection: bullConnection,
      prefix: keys.bullPrefix(shard),
      concurrency: cfg.thread_pools.work.workers,
      lockDuration: cfg.handlers.lock_duration_ms,
      stalledInterval: cfg.handlers.stalled_interval_ms,
      maxStalledCount: 1,
      name: id,
      autorun: false,
    });
    if (gate && !gateJobFetches(worker, gate))
      throw new Error('this BullMQ version has no Worker.moveToActive/processJob: cannot bound concurrency');
    backOffOnErrors(worker, logger.child({ shard }), () => closing !== undefined);
    return worker;
  };
  let closing: Promise<void> | undefined;
  const workers: Worker<JobData>[] = [];

  const cleanup = () => {
    commands.disconnect();
    bullConnection.disconnect();
  };
  try {
    for (const shard of shards) workers.push(newWorker(shard));
    for (const [i, worker] of workers.entries())
      void worker
        .run()
        .catch((err) =>
          logger.error({ shard: shards[i], error: (err as Error).message }, 'bullmq worker stopped'),
        );
    await Promise.all(workers.map((w) => w.waitUntilReady()));
  } catch (err) {
    gate?.close();
    await Promise.all(workers.map((w) => w.close(true).catch(() => {})));
    cleanup();
    if (ownLogger) await closeLogger(logger);
    throw err;
  }

  const reloadHandlers = async (modules: readonly string[]): Promise<boolean> => {
    try {
      router = await buildRouter(modules, cfg);
      logger.info({ modules, subscriptions: router.size }, 'handler modules reloaded');
      return true;
    } catch (err) {
      const line = err instanceof HandlerLoadError ? err.message : (err as Error).message;
      logger.error(`handler reload rejected, keeping the running handlers: ${line}`);
      return false;
    }
  };

  let concurrency = cfg.thread_pools.work.workers;
  const setConcurrency = (n: number) => {
    const before = concurrency;
    if (before === n) return;
    concurrency = n;
    gate?.resize(n);
    for (const worker of workers) {
      worker.concurrency = n;
      // BullMQ otherwise applies a raised concurrency only when a running job ends (bullmq-internals.ts).
      if (n > before) wakeMainLoop(worker);
    }
    logger.info({ concurrency: n }, 'concurrency changed');
  };

  const onConfig = (next: FleetConfig) => {
    const prev = cfg;
    cfg = next;
    if (next.thread_pools.work.workers !== prev.thread_pools.work.workers)
      setConcurrency(next.thread_pools.work.workers);
    if (next.thread_pools.work.queue_size !== prev.thread_pools.work.queue_size)
      slots.resize(next.thread_pools.work.queue_size);
    if (ownLogger && next.logging.level !== prev.logging.level) setLogLevel(logger, next.logging.level);
    if (JSON.stringify(next.monitoring) !== JSON.stringify(prev.monitoring)) {
      labeler.configure(labelerOptions(next));
      instruments.reconfigured();
    }
    if (JSON.stringify(next.handlers.modules) !== JSON.stringify(prev.handlers.modules))
      void reloadHandlers(next.handlers.modules);
  };
  const unwatch = opts.watcher?.watch(onConfig);

  const close = () => {
    closing ??= (async () => {
      unwatch?.();
      const deadline = cfg.handlers.shutdown_timeout_ms;
      logger.info({ deadline_ms: deadline }, 'shutting down: no new jobs, finishing in-flight ones');
      // Every shard Worker stops fetching and finishes its jobs (BullMQ sets `closing` at once); then
      // fetches waiting for a slot give up.
      const closed = Promise.all(workers.map((w) => w.close())).then(() => {});
      gate?.close();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        closed.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), deadline);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        logger.warn({ in_flight: slots.inUse }, 'shutdown deadline passed: aborting in-flight handlers');
        shutdown.abort(new Error('worker shutdown'));
        await closed;
      }
      cleanup();
      if (ownLogger) await closeLogger(logger);
    })();
    return closing;
  };

  return {
    id,
    registry,
    healthy: () => commands.status === 'ready' && workers.every((w) => w.isRunning()),
    config: () => cfg,
    router: () => router,
    shards,
    setConcurrency,
    get concurrency() {
      return concurrency;
    },
    reloadHandlers,
    close,
  };
}

/** First pause of the job loop after a BullMQ error; doubles per error in a row up to the cap. */
const ERROR_PAUSE_FIRST_MS = 500;
const ERROR_PAUSE_MAX_MS = 30_000;

/**
 * BullMQ's job loop emits an error and tries again at once when Redis refuses its scripts (e.g. `OOM
 * command not allowed` from a full Redis with noeviction): thousands of turns and log lines a second. Here
 * each error pauses fetching (running jobs go on) for a backoff that grows while errors repeat and resets
 * when a job completes; error lines are written at most every 5 s with the count swallowed in between.
 */
function backOffOnErrors(worker: Worker, logger: Logger, closing: () => boolean): void {
  const errorLines = new LogLimiter();
  const failedLines = new LogLimiter();
  const backoff = new Backoff(ERROR_PAUSE_FIRST_MS, ERROR_PAUSE_MAX_MS);
  let pausedForMs = 0;
  worker.on('error', (err) => {
    const suppressed = errorLines.take();
    if (suppressed >= 0) logger.error({ error: err.message, suppressed }, 'bullmq worker error');
    if (pausedForMs > 0 || closing()) return;
    pausedForMs = backoff.next();
    const wait = pausedForMs;
    void worker
      .pause(true)
      .then(() => new Promise((resolve) => setTimeout(resolve, wait).unref()))
      .then(() => {
        pausedForMs = 0;
        if (!closing()) return worker.resume();
      })
      .catch(() => {
        pausedForMs = 0;
      });
  });
  worker.on('completed', () => backoff.reset());
  worker.on('failed', (job, err) => {
    const suppressed = failedLines.take();
    if (suppressed >= 0) logger.error({ job_id: job?.id, error: err.message, suppressed }, 'job failed');
  });
}
