export { type BatchDeps, type BatchResult, describeFailure, processBatch } from './batch.js';
export {
  HandlerLoadError,
  type HandlerModuleContext,
  loadHandlerModules,
  type RegisterHandlers,
  resolveHandlerModule,
} from './handler-loader.js';
export { JobGate } from './job-gate.js';
export { Semaphore } from './semaphore.js';
export {
  ConsumeShardsError,
  consumedShards,
  type StartWorkerOptions,
  startWorker,
  type WorkerApp,
} from './worker.js';
