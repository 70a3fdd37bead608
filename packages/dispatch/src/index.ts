export { Dispatcher, type DispatchLimits, dispatchLimits, retryDelayMs } from './dispatcher.js';
export { JobDataJob, JobQueue } from './job-queue.js';
export {
  batchJobId,
  buildJobs,
  chunkJobMessages,
  type JobSpec,
  type KeepFinished,
  keepOption,
} from './jobs.js';
export {
  countDeadLetters,
  DEAD_COUNT_BOUND,
  DEAD_COUNT_BOUND_TOPIC,
  deadLetterView,
  listDeadLetters,
  type OpsStore,
  purgeDeadLetters,
  type ReplayResult,
  replayDeadLetters,
  replayRange,
} from './operations.js';
export { type OpsContext, openOpsContext } from './ops-context.js';
