export { type ConfigDiff, diffConfig, keepFields, reloadModeOf } from './diff.js';
export { CONFIG_DOCS_PATH, normalizeDocs, renderConfigDocs } from './docs.js';
export { applyEnvOverrides, ENV_ALIASES, ENV_PREFIX, envVarFor, readEnvOverrides } from './env-overrides.js';
export { ConfigError, isConfigError } from './errors.js';
export { EXIT_UNSAFE_CONFIG, exposureProblem, isLoopbackHost, type OpsApp } from './exposure.js';
export { deepFreeze } from './freeze.js';
export {
  defaultConfig,
  loadConfigFile,
  type ParseOptions,
  parseConfig,
  ROOT_KEY,
  readConfigText,
  resolveConfigPath,
} from './load.js';
export { censor, REDACT_PATHS, REDACTED, redactConfig, redactUrl } from './redact.js';
export {
  configFileSchema,
  type FieldMeta,
  type FleetConfig,
  LOG_LEVELS,
  messagingSystemSchema,
  type Reload,
} from './schema.js';
export { describeSchema, type FieldInfo, listFields } from './schema-walk.js';
export {
  type ConfigListener,
  type ConfigLogger,
  ConfigWatcher,
  type ConfigWatcherOptions,
} from './watcher.js';
