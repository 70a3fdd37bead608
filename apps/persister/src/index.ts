export * from './db/index.js';
export { Dispatcher } from './dispatcher.js';
export { batchJobId, buildJobs, chunkJobMessages, retryDelayMs, toJobMessage } from './jobs.js';
export * from './ops.js';
export { type Persister, type PersisterOptions, startPersister } from './persister.js';
export type { QueueApi } from './queue-api.js';
export { decodeEntry } from './stream-entry-decoder.js';
