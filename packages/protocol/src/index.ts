export * from './errors.js';
export * from './topic.js';
export * from './envelope.js';
export * from './keys.js';
export * from './stream-entry.js';
export * from './job.js';
export * from './reply.js';
export * from './frames.js';
