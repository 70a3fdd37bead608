export * from './envelope.js';
export * from './errors.js';
export * from './frames.js';
export * from './job.js';
export * from './keys.js';
export * from './reply.js';
export * from './stream-entry.js';
export * from './topic.js';
