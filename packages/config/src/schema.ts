import { z } from 'zod';

/**
 * The one schema of Fleet's YAML configuration (root key `messaging_system`).
 * Every field has a type, a range, a default and one line of documentation, plus whether a change is
 * applied live on hot reload (`live`) or needs a restart (`restart`). Fields marked `secret` are redacted
 * wherever a config value is printed. docs/configuration.md is generated from this file.
 */
export type Reload = 'live' | 'restart';
export interface FieldMeta {
  description: string;
  reload: Reload;
  secret?: boolean;
}

function f<T extends z.ZodType>(schema: T, description: string, reload: Reload, secret = false): T {
  return schema.meta({ description, reload, ...(secret ? { secret: true } : {}) }) as T;
}
const int = (min: number, max: number) => z.int().min(min).max(max);
const port = () => int(0, 65535);

const network = z
  .strictObject({
    host: f(
      z.string().min(1).default('127.0.0.1'),
      'Address the gateway listens on; loopback by default: to serve other hosts set e.g. 0.0.0.0, with auth.tokens (anyone reaching the port may publish without them).',
      'restart',
    ),
    port: f(port().default(7400), 'TCP port of the gateway (0 = any free port).', 'restart'),
    max_connections: f(
      int(1, 1_000_000).default(10_000),
      'Most client connections one gateway process holds.',
      'live',
    ),
    timeout_ms: f(
      int(0, 86_400_000).default(60_000),
      'Idle timeout of a client connection in ms (0 = none).',
      'live',
    ),
    retry_attempts: f(
      int(0, 100).default(3),
      'Read by no app: kept so existing config files load. A client sets its reconnect attempts where it connects (`reconnect.retries`, docs/client.md).',
      'live',
    ),
    max_frame_bytes: f(
      int(1024, 64 * 1024 * 1024).default(1024 * 1024),
      'Largest frame accepted, header included.',
      'live',
    ),
    max_in_flight: f(
      int(1, 1_000_000).default(1024),
      'Per-connection window of publishes read but not yet ACKed.',
      'live',
    ),
  })
  .prefault({});

/** Limits of a client connection's session that an unauthenticated or slow client cannot stretch. */
const gateway = z
  .strictObject({
    handshake_timeout_ms: f(
      int(0, 3_600_000).default(10_000),
      'A client must complete HELLO within this many ms of connecting, else ERROR TIMEOUT and close (0 = no limit). With TLS the TLS handshake also gets this deadline, as read at start (a change reaches it after a restart).',
      'live',
    ),
    max_hello_bytes: f(
      int(64, 64 * 1024 * 1024).default(8 * 1024),
      'Largest first frame (the HELLO) of a connection, header included; the smaller of this and max_frame_bytes applies.',
      'live',
    ),
    frame_timeout_ms: f(
      int(0, 3_600_000).default(30_000),
      'A frame whose first bytes arrived must be complete within this many ms, else ERROR TIMEOUT and close (0 = no limit).',
      'live',
    ),
    max_partial_bytes: f(
      int(64 * 1024, 2 ** 40).default(128 * 1024 * 1024),
      'Per gateway process: bytes all connections may hold in unfinished frames; past it the connections with the oldest unfinished frames get ERROR OVERLOADED and are closed.',
      'live',
    ),
  })
  .prefault({});

const threadPools = z
  .strictObject({
    io: z
      .strictObject({
        workers: f(
          int(1, 64).default(1),
          'Gateway processes sharing the listening port (node:cluster).',
          'restart',
        ),
        queue_size: f(
          int(1, 10_000_000).default(65_536),
          'Per gateway process: messages read but not yet ACKed.',
          'live',
        ),
      })
      .prefault({}),
    work: z
      .strictObject({
        workers: f(
          int(1, 10_000).default(8),
          'Jobs one worker process runs at once (BullMQ concurrency).',
          'live',
        ),
        queue_size: f(
          int(1, 1_000_000).default(1_000),
          'Most messages one worker process holds at once.',
          'live',
        ),
        lockfree: f(
          z.boolean().default(false),
          'Accepted for compatibility with the C++ design; no meaning in Node.',
          'restart',
        ),
      })
      .prefault({}),
  })
  .prefault({});

const database = z
  .strictObject({
    type: f(z.literal('postgresql').default('postgresql'), 'Database engine; only postgresql.', 'restart'),
    connection_string: f(
      z.string().min(1).default('postgres://postgres@127.0.0.1:5432/fleet'),
      'PostgreSQL URL (env FLEET_DATABASE_URL overrides).',
      'restart',
      true,
    ),
    pool: z
      .strictObject({
        min_connections: f(int(0, 1000).default(1), 'Connections kept open at least.', 'restart'),
        max_connections: f(int(1, 1000).default(10), 'Most connections in the pool.', 'restart'),
        idle_timeout_s: f(
          int(0, 86_400).default(30),
          'Seconds before an idle connection is closed.',
          'restart',
        ),
      })
      .prefault({}),
  })
  .prefault({});

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
const logWriter = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('console') }),
  z.strictObject({ type: z.literal('file'), path: z.string().min(1) }),
  z.strictObject({
    type: z.literal('rotating_file'),
    path: z.string().min(1),
    frequency: z.enum(['hourly', 'daily']).optional(),
    size: z
      .string()
      .regex(/^\d+[kmg]?$/i, 'a size like 10m')
      .optional(),
    limit: int(1, 1000).optional(),
  }),
]);
const logging = z
  .strictObject({
    level: f(z.enum(LOG_LEVELS).default('info'), 'Minimum level written; changed live.', 'live'),
    async: f(
      z.boolean().default(true),
      'Write logs off the hot path (buffered, flushed on shutdown).',
      'restart',
    ),
    writers: f(
      z
        .array(logWriter)
        .min(1)
        .default([{ type: 'console' }]),
      'Where logs go: console, file {path}, rotating_file {path, frequency, size, limit}.',
      'restart',
    ),
  })
  .prefault({});

const monitoring = z
  .strictObject({
    enabled: f(z.boolean().default(true), 'Collect and serve Prometheus metrics.', 'restart'),
    interval_ms: f(
      int(100, 3_600_000).default(5_000),
      'How often queue depths and stream lag are sampled.',
      'live',
    ),
    topic_labels: f(
      z.array(z.string()).default([]),
      'Topics (or prefixes ending in .#) kept as metric labels.',
      'live',
    ),
    topic_label_segments: f(
      int(0, 16).default(1),
      'Other topics are labelled by their first N segments (0 = "other").',
      'live',
    ),
    max_topic_labels: f(
      int(1, 10_000).default(100),
      'Distinct topic labels per metric before "other".',
      'live',
    ),
  })
  .prefault({});

const redis = z
  .strictObject({
    url: f(
      z.string().min(1).default('redis://127.0.0.1:6379'),
      'Redis URL (env FLEET_REDIS_URL overrides). In cluster mode a seed node when `nodes` is empty; its user, password and rediss:// (TLS) apply to every node.',
      'restart',
      true,
    ),
    mode: f(
      z.enum(['standalone', 'cluster']).default('standalone'),
      'standalone: one Redis server (or a proxy); cluster: a Redis Cluster, shards spread over its masters. Each app checks it at start against what the server says.',
      'restart',
    ),
    nodes: f(
      z.array(z.string().min(1)).default([]),
      'Cluster mode: seed node URLs (redis://host:port; a few are enough, the rest is discovered). Empty = `url`.',
      'restart',
      true,
    ),
    nat_map: f(
      z.record(z.string().regex(/^[^:]+:\d+$/), z.string().regex(/^[^:]+:\d+$/)).default({}),
      'Cluster mode: announced node address -> reachable address ("10.0.0.5:6379": "redis-0.example:6379"), for clusters behind NAT or in another network.',
      'restart',
    ),
    key_prefix: f(
      z
        .string()
        .regex(/^[A-Za-z0-9_:.-]+$/)
        .default('fleet'),
      'Prefix of every Redis key the fleet uses.',
      'restart',
    ),
  })
  .prefault({});

const streams = z
  .strictObject({
    shards: f(
      int(1, 256).default(1),
      'Ingest streams; a message goes to the shard of its topic hash.',
      'restart',
    ),
    read_count: f(
      int(1, 100_000).default(1_000),
      'About the most messages the persister reads per XREADGROUP (ingest entries hold 1-100 messages).',
      'live',
    ),
    block_ms: f(int(1, 60_000).default(100), 'How long one XREADGROUP waits for new entries.', 'live'),
    claim_idle_ms: f(
      int(1_000, 86_400_000).default(30_000),
      'Entries pending this long on a consumer without a liveness key (a persister of an older version) are claimed.',
      'live',
    ),
    consumer_ttl_ms: f(
      int(1_000, 600_000).default(3_000),
      'A persister that has not renewed its liveness key (every third of this) for this long is dead: a peer claims its pending entries at once and re-dispatches the rows it committed without enqueueing within seconds. Keep above the longest event-loop stall of a persister.',
      'live',
    ),
  })
  .prefault({});

const queue = z
  .strictObject({
    name: f(
      z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/)
        .default('messages'),
      'BullMQ queue the workers consume.',
      'restart',
    ),
    consume_shards: f(
      z.array(int(0, 255)).default([]),
      "Shards whose queues this worker consumes (each below streams.shards); empty = all. For workers dedicated to some shards' topics.",
      'restart',
    ),
    batch_size: f(int(1, 10_000).default(100), 'Most messages per job (1 = one job per message).', 'live'),
    max_job_bytes: f(
      int(1024, 512 * 1024 * 1024).default(4 * 1024 * 1024),
      'Most bytes of envelopes per job.',
      'live',
    ),
    max_waiting_jobs: f(
      int(1, 10_000_000).default(10_000),
      'The persister stops reading the ingest streams while more jobs than this wait (workers behind).',
      'restart',
    ),
    keep_completed: z
      .strictObject({
        count: f(
          int(0, 100_000).default(10),
          'Most completed jobs kept per shard queue for Bull Board (0 = removed as soon as they finish, as before). Each keeps its batch (up to queue.max_job_bytes) in Redis, memory no completion frees: keep count x job size well below the room between pressure.dispatch_memory_high and maxmemory.',
          'live',
        ),
        age_s: f(
          int(1, 30 * 86_400).default(3600),
          'Seconds a completed job is kept at most (1 h; BullMQ removes aged jobs when a later job finishes).',
          'live',
        ),
      })
      .prefault({}),
    keep_failed: z
      .strictObject({
        count: f(
          int(0, 100_000).default(20),
          'Most failed jobs kept per shard queue for Bull Board (0 = removed as soon as they finish, as before). Each keeps its batch (up to queue.max_job_bytes) in Redis, memory no completion frees: keep count x job size well below the room between pressure.dispatch_memory_high and maxmemory.',
          'live',
        ),
        age_s: f(
          int(1, 30 * 86_400).default(86400),
          'Seconds a failed job is kept at most (24 h; BullMQ removes aged jobs when a later job finishes).',
          'live',
        ),
      })
      .prefault({}),
  })
  .prefault({});

const pressure = z
  .strictObject({
    interval_ms: f(
      int(50, 60_000).default(250),
      'How often gateways and persisters sample Redis memory (INFO memory) and the ingest backlog.',
      'live',
    ),
    memory_high: f(
      z.number().gt(0).max(1).default(0.75),
      'Gateways answer OVERLOADED from this fraction of Redis maxmemory used.',
      'live',
    ),
    memory_low: f(
      z.number().gt(0).max(1).default(0.65),
      'Gateways accept publishes again below this fraction of maxmemory.',
      'live',
    ),
    dispatch_memory_high: f(
      z.number().gt(0).max(1).default(0.85),
      'Persisters stop turning ingest entries into jobs from this fraction of maxmemory (resume below memory_high); the rest is the drain headroom.',
      'live',
    ),
    max_backlog_messages: f(
      int(0, 1_000_000_000).default(1_000_000),
      'Without a Redis maxmemory: gateways answer OVERLOADED from this many messages in the ingest streams (0 = no bound).',
      'live',
    ),
    resume_backlog_messages: f(
      int(0, 1_000_000_000).default(500_000),
      'Without a maxmemory: gateways accept publishes again at or below this many messages.',
      'live',
    ),
  })
  .prefault({})
  .refine((p) => p.memory_low < p.memory_high && p.memory_high < p.dispatch_memory_high, {
    message: 'pressure needs memory_low < memory_high < dispatch_memory_high',
  })
  .refine((p) => p.max_backlog_messages === 0 || p.resume_backlog_messages < p.max_backlog_messages, {
    message: 'pressure.resume_backlog_messages must be below max_backlog_messages',
  });

const retry = z
  .strictObject({
    max_retries: f(int(0, 1000).default(3), 'Retries of a FAILED message before it becomes DEAD.', 'live'),
    backoff_ms: f(int(0, 86_400_000).default(1_000), 'First retry delay; doubles each retry.', 'live'),
    backoff_max_ms: f(int(0, 86_400_000).default(60_000), 'Cap of the retry delay.', 'live'),
    sweep_interval_ms: f(
      int(1_000, 86_400_000).default(30_000),
      'How often PENDING/PROCESSING rows without a job are re-dispatched.',
      'live',
    ),
    sweep_age_ms: f(
      int(1_000, 86_400_000).default(120_000),
      'Age after which such a row counts as lost by Redis.',
      'live',
    ),
  })
  .prefault({});

const retention = z
  .strictObject({
    completed_max_age_s: f(
      int(60, 31_536_000 * 10).default(7 * 86_400),
      'The message log keeps COMPLETED rows this long: a partition is dropped once it was closed this long ago (rows not COMPLETED are carried forward first).',
      'live',
    ),
    dead_max_age_s: f(
      int(60, 31_536_000 * 10).default(30 * 86_400),
      'DEAD rows older than this are deleted.',
      'live',
    ),
    interval_s: f(
      int(10, 86_400).default(3_600),
      'How often retention and the log maintenance run (partitions are rolled, created ahead and dropped on these runs).',
      'live',
    ),
    partition_interval_s: f(
      int(60, 31_536_000).default(86_400),
      'How much time one partition of the message log holds: new rows move to a new partition on the first maintenance run after the current one is this old. Also the least duplicate window.',
      'live',
    ),
  })
  .prefault({});

const tracing = z
  .strictObject({
    enabled: f(
      z.boolean().default(true),
      'Propagate trace ids and record OpenTelemetry spans. OTEL_SDK_DISABLED (true/false) overrides it.',
      'restart',
    ),
    exporter: f(
      z.enum(['none', 'console', 'otlp']).default('none'),
      'Where spans go. OTEL_TRACES_EXPORTER, or an OTLP endpoint variable (OTLP there), overrides it.',
      'restart',
    ),
    otlp_endpoint: f(
      z.url().default('http://127.0.0.1:4318/v1/traces'),
      'OTLP/HTTP traces endpoint (http/protobuf; http/json with OTEL_EXPORTER_OTLP_TRACES_PROTOCOL). OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT override it.',
      'restart',
    ),
    sampling_ratio: f(
      z.number().min(0).max(1).default(1),
      'Parent-based sampling ratio of new traces. OTEL_TRACES_SAMPLER (+ OTEL_TRACES_SAMPLER_ARG) overrides it.',
      'restart',
    ),
    service_name: f(
      z.string().min(1).default('fleet'),
      'service.name prefix; each app appends its role (fleet-gateway, ...). OTEL_SERVICE_NAME overrides the whole name.',
      'restart',
    ),
  })
  .prefault({});

const ops = z
  .strictObject({
    host: f(
      z.string().min(1).default('127.0.0.1'),
      'Address of the ops HTTP servers (persister ops server, gateway and worker metrics). A non-loopback address needs basic_auth (see allow_insecure).',
      'restart',
    ),
    port: f(port().default(7401), 'Persister ops server: /healthz /readyz /metrics /ops/queues.', 'restart'),
    gateway_metrics_port: f(
      port().default(7402),
      'Gateway /metrics, /healthz and /readyz (0 = any free port).',
      'restart',
    ),
    worker_metrics_port: f(
      port().default(7403),
      'Worker /metrics, /healthz and /readyz (0 = any free port).',
      'restart',
    ),
    basic_auth: f(
      z.strictObject({ username: z.string().min(1), password: z.string().min(1) }).optional(),
      'Basic auth on every ops and metrics endpoint of every app except /healthz and /readyz; absent = open (allowed on a loopback host only).',
      'restart',
      true,
    ),
    public_metrics: f(
      z.boolean().default(false),
      'Serve /metrics (read-only) without credentials even when basic_auth is set; lets gateway and worker metrics listen on a non-loopback host without basic_auth. Bull Board and dead letters stay behind basic_auth.',
      'restart',
    ),
    allow_insecure: f(
      z.boolean().default(false),
      'Start even when an ops server listens on a non-loopback host without basic_auth: Bull Board and dead-letter replay/purge are then open to anyone who reaches it.',
      'restart',
    ),
    bull_board: z
      .strictObject({
        read_only: f(
          z.boolean().default(true),
          "Bull Board shows the queues but refuses every job and queue action (retry, remove, clean, pause, add; @bull-board's readOnlyMode). On by default: Postgres is the record of every message, and a job removed, emptied or added by hand there is out of step with it until a sweep; operator actions go through `fleet dead-letters` / `fleet replay` and the /ops/dead-letters endpoints, which change rows and jobs together.",
          'restart',
        ),
      })
      .prefault({}),
  })
  .prefault({});

const auth = z
  .strictObject({
    tokens: f(
      z.array(z.string().min(16)).default([]),
      'Accepted client tokens (>= 16 chars); empty = no auth.',
      'live',
      true,
    ),
  })
  .prefault({});

const tls = z
  .strictObject({
    enabled: f(z.boolean().default(false), 'Serve TLS instead of plain TCP.', 'restart'),
    cert_path: f(z.string().optional(), 'PEM certificate chain.', 'restart'),
    key_path: f(z.string().optional(), 'PEM private key.', 'restart'),
    ca_path: f(z.string().optional(), 'PEM CA bundle for client certificates (optional).', 'restart'),
  })
  .prefault({})
  .refine((t) => !t.enabled || (t.cert_path && t.key_path), {
    message: 'tls.enabled needs cert_path and key_path',
  });

const handlers = z
  .strictObject({
    modules: f(
      z.array(z.string().min(1)).default([]),
      'Handler modules (paths relative to the config file).',
      'live',
    ),
    unrouted: f(
      z.enum(['dead_letter', 'complete']).default('dead_letter'),
      'What happens to a message no subscription matches.',
      'live',
    ),
    timeout_ms: f(int(1, 86_400_000).default(30_000), 'A handler running longer fails its message.', 'live'),
    shutdown_timeout_ms: f(
      int(0, 600_000).default(10_000),
      'On SIGTERM, how long in-flight jobs may finish.',
      'restart',
    ),
    lock_duration_ms: f(
      int(1_000, 3_600_000).default(5_000),
      "BullMQ job lock of a worker, renewed every half of it: a killed worker's jobs run again within about this plus stalled_interval_ms; a handler that blocks the event loop longer than half of it can lose its lock (its job then runs twice).",
      'restart',
    ),
    stalled_interval_ms: f(
      int(1_000, 3_600_000).default(1_000),
      'How often workers look for jobs whose lock expired (a dead worker) and put them back in the queue.',
      'restart',
    ),
  })
  .prefault({});

const requests = z
  .strictObject({
    default_timeout_ms: f(int(1, 3_600_000).default(5_000), 'Deadline of a REQUEST that gives none.', 'live'),
    max_timeout_ms: f(int(1, 3_600_000).default(300_000), 'Longest deadline a REQUEST may ask for.', 'live'),
  })
  .prefault({});

export const messagingSystemSchema = z.strictObject({
  version: f(z.string().default('1.0'), 'Config format version.', 'restart'),
  network,
  gateway,
  thread_pools: threadPools,
  database,
  logging,
  monitoring,
  redis,
  streams,
  queue,
  pressure,
  retry,
  retention,
  tracing,
  ops,
  auth,
  tls,
  handlers,
  requests,
});

export const configFileSchema = z.strictObject({ messaging_system: messagingSystemSchema });

export type FleetConfig = z.infer<typeof messagingSystemSchema>;
