/**
 * Node/V8 flags every Fleet app process runs with, given as NODE_OPTIONS by whatever starts the apps
 * (`npm start`, the Dockerfile's ENV, the e2e bench; test/deploy/compose.test.ts keeps the Dockerfile equal).
 *
 * A larger young generation: the apps allocate short-lived objects per message (frames, envelopes, job
 * payloads, status entries), and with V8's default 16 MB semi-space the scavenger runs many times a second
 * under load. With 64 MB the scavenger's share of the worker's and the persister's busy time halves
 * (~10-11% -> 5-6%) and the end-to-end bench runs ~10% faster (7-15% in paired runs; docs/benchmarks.md).
 * The cost is memory: up to ~100 MB more per process once the young generation has grown under load.
 */
export const APP_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];

/** NODE_OPTIONS for an app process: the app flags, then whatever the caller already had. */
export function appNodeOptions(existing?: string): string {
  return [...APP_NODE_FLAGS, existing ?? ''].join(' ').trim();
}
