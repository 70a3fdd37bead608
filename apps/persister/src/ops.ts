/** Light entry point for operator tools (`@fleet/persister/ops`): no stream consumers, no HTTP server. */

export {
  deadLetterView,
  listDeadLetters,
  purgeDeadLetters,
  replayDeadLetters,
  replayRange,
} from './operations.js';
export { type OpsContext, openOpsContext } from './ops-context.js';
