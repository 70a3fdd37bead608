/** Light entry point for operator tools (`@fleet/persister/ops`): no stream consumers, no HTTP server. */
export { openOpsContext, type OpsContext } from './ops-context.js';
export { deadLetterView, listDeadLetters, purgeDeadLetters, replayDeadLetters, replayRange } from './operations.js';
