export { FLEET_VERSION } from '@fleet/metrics';
export {
  type AppContext,
  type AppSpec,
  EXIT_START_FAILED,
  EXIT_USAGE,
  type RunningApp,
  runApp,
} from './bootstrap.js';
