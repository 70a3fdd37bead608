export { type Persister, type PersisterOptions, startPersister } from './persister.js';
export type { QueueApi } from './queue-api.js';
export { decodeEntry } from './stream-entry-decoder.js';
