import { existsSync, readFileSync } from 'node:fs';
import {
  closesConnection,
  encodeEnvelope,
  encodeFrame,
  encodePublish,
  encodeRequest,
  FRAME_HEADER_BYTES,
  type Frame,
  FrameDecoder,
  FrameType,
  type InvalidFrame,
} from '@fleet/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeArb, frameArb } from '../../../packages/protocol/test/arbitraries.js';
import { writeTestConfig } from '../../../test/helpers/config.js';
import { type AppProcess, spawnApp } from '../../../test/helpers/processes.js';
import { cleanupRedisPrefix, RawClient, sleep } from './helpers.js';

// Random and mutated frame streams against a real gateway process (main.ts): every PUBLISH and REQUEST
// the gateway fully read (complete, and before anything that closes the connection) gets exactly one
// answer, nothing unread is ACKed, and the process's RSS stays under a stated bound.
// Mutation tried: endWithError without the deferral while frames are in flight (the closing ERROR sent at
// once, as before issue 13): "exactly one answer" fails within the first run.

const MAX_FRAME_BYTES = 64 * 1024;
const MAX_HELLO_BYTES = 1024;
/** Short deadlines so requests and durable publishes (no worker, no persister here) end quickly. */
const REQUEST_TIMEOUT_MS = 300;
/** The gateway closes each connection by itself after this much quiet: every run ends by that. */
const IDLE_MS = 1_000;
/** Bound on the gateway's RSS growth over its post-start baseline during the fuzz. */
const RSS_GROWTH_BOUND_BYTES = 128 * 1024 * 1024;
const CONNECTIONS_PER_RUN = 16;
const RUNS = 3;
const CLOSE_WITHIN_MS = 20_000;

type Item =
  | { kind: 'publish'; env: Uint8Array; durable: boolean }
  | { kind: 'request'; env: Uint8Array; timeoutMs: number }
  | { kind: 'ping' }
  | { kind: 'frame'; frame: Frame }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'big'; bytes: number };

const envBytes = envelopeArb.map((e) => encodeEnvelope(e));
const itemArb: fc.Arbitrary<Item> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record({ kind: fc.constant('publish' as const), env: envBytes, durable: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      env: envBytes,
      timeoutMs: fc.integer({ min: 0, max: REQUEST_TIMEOUT_MS }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'ping' as const }) },
  { weight: 1, arbitrary: frameArb.map((frame) => ({ kind: 'frame' as const, frame })) },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 24 }).map((bytes) => ({ kind: 'bytes' as const, bytes })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: MAX_FRAME_BYTES }).map((bytes) => ({ kind: 'big' as const, bytes })),
  },
);

const streamArb = fc.record({
  hello: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  items: fc.array(itemArb, { minLength: 1, maxLength: 60, size: 'max' }),
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 2 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
  chunks: fc.array(fc.nat(), { maxLength: 3 }),
});
type Stream = typeof streamArb extends fc.Arbitrary<infer T> ? T : never;

/** The stream's bytes: corrs 1, 2, ... for the client's own PUBLISH/REQUEST/PING, then mutations. */
function encodeStream(s: Stream): Buffer {
  const parts: Buffer[] = [];
  let corr = 1;
  if (s.hello) parts.push(encodeFrame({ type: FrameType.HELLO, corr: corr++, clientName: 'fuzz' }));
  for (const it of s.items) {
    if (it.kind === 'publish') parts.push(encodePublish(corr++, it.durable ? 1 : 0, undefined, it.env));
    else if (it.kind === 'request') parts.push(encodeRequest(corr++, it.timeoutMs, undefined, it.env));
    else if (it.kind === 'ping') parts.push(encodeFrame({ type: FrameType.PING, corr: corr++ }));
    else if (it.kind === 'frame') parts.push(encodeFrame(it.frame));
    else if (it.kind === 'bytes') parts.push(Buffer.from(it.bytes));
    else {
      // A large PING-typed frame: MALFORMED when complete (a body), FRAME_TOO_LARGE when over the limit.
      const b = Buffer.alloc(it.bytes);
      if (b.length >= FRAME_HEADER_BYTES) {
        b.writeUInt32BE(b.length - 4, 0);
        b[4] = 1;
        b[5] = FrameType.PING;
      }
      parts.push(b);
    }
  }
  let buf = Buffer.concat(parts);
  for (const [at, v] of s.flips) if (buf.length > 0) buf[at % buf.length] = v;
  if (s.cut !== undefined && buf.length > 0) buf = buf.subarray(0, s.cut % buf.length);
  return buf;
}

/**
 * The model of what the gateway reads: the reference decoder's frames, up to the first one that closes
 * the connection (docs/protocol.md sections 3, 4 and 6). Returns the corrs of the PUBLISH/REQUEST frames
 * read, and every corr seen in a read frame (to tell which corrs are unambiguous).
 */
function readFrames(bytes: Buffer): { answered: number[]; all: number[] } {
  const items: Array<Frame | InvalidFrame> = new FrameDecoder({
    maxFrameBytes: MAX_FRAME_BYTES,
    firstFrameMaxBytes: MAX_HELLO_BYTES,
  }).decode(bytes);
  const answered: number[] = [];
  const all: number[] = [];
  let hello = false;
  for (const f of items) {
    all.push(f.corr);
    if (!hello) {
      if (f.type !== FrameType.HELLO) break;
      hello = true;
    } else if (f.type === 0) {
      if (closesConnection(f.code)) break;
    } else if (f.type === FrameType.PUBLISH || f.type === FrameType.REQUEST) {
      if (f.corr === 0) break;
      answered.push(f.corr);
    }
  }
  return { answered, all };
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

describe('gateway process under random and mutated frame streams', () => {
  let app: AppProcess;
  let port = 0;
  let prefix = '';

  beforeAll(async () => {
    const { path, config } = await writeTestConfig({
      network: { timeout_ms: IDLE_MS, max_frame_bytes: MAX_FRAME_BYTES },
      gateway: { max_hello_bytes: MAX_HELLO_BYTES, handshake_timeout_ms: 5_000, frame_timeout_ms: 5_000 },
      requests: { default_timeout_ms: REQUEST_TIMEOUT_MS, max_timeout_ms: REQUEST_TIMEOUT_MS },
    });
    prefix = config.redis!.key_prefix!;
    app = spawnApp('gateway', { config: path });
    port = JSON.parse(await app.waitReady(30_000)).port;
  });
  afterAll(async () => {
    await app?.stop(15_000);
    await cleanupRedisPrefix(prefix);
  });

  it('answers every PUBLISH/REQUEST read exactly once; RSS stays bounded', async () => {
    const pid = app.pid!;
    const canSample = existsSync(`/proc/${pid}/status`);
    const baseline = canSample ? rssBytes(pid) : 0;
    let peak = baseline;
    const sampler = setInterval(() => {
      if (canSample) peak = Math.max(peak, rssBytes(pid));
    }, 100);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(streamArb, { minLength: CONNECTIONS_PER_RUN, maxLength: CONNECTIONS_PER_RUN }),
          async (streams) => {
            await Promise.all(
              streams.map(async (s) => {
                const bytes = encodeStream(s);
                const c = await RawClient.connect(port);
                const cuts = [...new Set(s.chunks.map((x) => x % (bytes.length + 1)))].sort((a, b) => a - b);
                let prev = 0;
                for (const at of [...cuts, bytes.length]) {
                  if (at > prev) c.write(bytes.subarray(prev, at));
                  prev = at;
                }
                // The gateway closes every connection by itself: a closing error, or idle after its answers.
                const closed = await Promise.race([
                  c.closed.then(() => true),
                  sleep(CLOSE_WITHIN_MS).then(() => false),
                ]);
                expect(closed, 'the gateway closed the connection').toBe(true);
                const { answered, all } = readFrames(bytes);
                const readCorrs = new Set(answered);
                const count = new Map<number, number>();
                for (const f of c.frames) {
                  if (f.type === FrameType.ACK)
                    expect(readCorrs.has(f.corr), `ACK ${f.corr} was read`).toBe(true);
                  if (f.type === FrameType.ACK || f.type === FrameType.ERROR || f.type === FrameType.RESPONSE)
                    count.set(f.corr, (count.get(f.corr) ?? 0) + 1);
                }
                for (const corr of answered) {
                  if (all.filter((x) => x === corr).length !== 1) continue; // a mutated corr made it ambiguous
                  expect(count.get(corr), `answers to corr ${corr}`).toBe(1);
                }
              }),
            );
          },
        ),
        // No shrinking: each run costs a second of a real process; FC_SEED replays a failure as it was.
        { numRuns: RUNS, endOnFailure: true },
      );
    } finally {
      clearInterval(sampler);
    }
    if (canSample) expect(peak - baseline).toBeLessThan(RSS_GROWTH_BOUND_BYTES);
  }, 120_000);
});
