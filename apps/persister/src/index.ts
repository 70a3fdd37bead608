export { startPersister, type Persister, type PersisterOptions } from './persister.js';
export { toJobMessage, chunkJobMessages, batchJobId, buildJobs } from './jobs.js';
export { Dispatcher } from './dispatcher.js';
export { replayRange, listDeadLetters, replayDeadLetters, purgeDeadLetters, deadLetterView } from './operations.js';
export { retryDelayMs } from './backoff.js';
export { decodeEntry } from './stream-entry-decoder.js';
export type { QueueApi } from './queue-api.js';
export { openOpsContext, type OpsContext } from './ops-context.js';
