export { type BatchDeps, type BatchResult, describeFailure, processBatch } from './batch.js';
export {
  HandlerLoadError,
  type HandlerModuleContext,
  loadHandlerModules,
  type RegisterHandlers,
  resolveHandlerModule,
} from './handler-loader.js';
export { Semaphore } from './semaphore.js';
export { type StartWorkerOptions, startWorker, type WorkerApp } from './worker.js';
