import { ENV_ALIASES, envVarFor } from './env-overrides.js';
import { describeSchema, type FieldInfo, listFields } from './schema-walk.js';

/** Where the generated reference lives (repository root docs/). */
export const CONFIG_DOCS_PATH = new URL('../../../docs/configuration.md', import.meta.url);

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function showDefault(f: FieldInfo): string {
  if (f.defaultValue === undefined) return '(unset)';
  return '`' + JSON.stringify(f.defaultValue) + '`';
}

/**
 * Compares two renderings of the reference, ignoring what a markdown formatter (biome) changes: blank lines
 * and the padding of table cells.
 */
export function normalizeDocs(md: string): string {
  return md
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) =>
      line.startsWith('|')
        ? line
            .split(/(?<!\\)\|/)
            .map((c) => c.trim().replace(/^:?-{3,}:?$/, '---'))
            .join('|')
        : line,
    )
    .join('\n');
}

/** docs/configuration.md, rendered from the schema (a test fails when the file is stale). */
export function renderConfigDocs(): string {
  const fields = listFields();
  const sections = new Map<string, FieldInfo[]>();
  for (const f of fields) {
    const section = f.path.length > 1 ? f.path[0]! : '(top level)';
    sections.set(section, [...(sections.get(section) ?? []), f]);
  }
  const aliases = Object.entries(ENV_ALIASES).map(([v, p]) => `\`${v}\` (= \`${envVarFor(p)}\`)`);
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from packages/config/src/schema.ts by `npm run docs:config -w @fleet/config`; do not edit by hand. -->',
    '',
    'Fleet reads one YAML file whose root key is `messaging_system` (example: [config/fleet.yaml](../config/fleet.yaml)).',
    'Every field is optional and has a default; unknown keys are errors, so a typo never passes silently.',
    'Check a file with `npx fleet config check FILE` (prints `ok`, or one line per problem such as',
    '`config/fleet.yaml:12:9 messaging_system.network.port: expected an integer 0-65535, got "80a"`, and exits 1).',
    'A section left empty (`network:` with its children commented out) takes its defaults.',
    '',
    '## Environment overrides',
    '',
    'One scheme: `FLEET_<SECTION>__<FIELD>[__<SUBFIELD>]`, the upper-case path below `messaging_system` joined by',
    'double underscores, e.g. `FLEET_NETWORK__PORT=0`, `FLEET_REDIS__KEY_PREFIX=test`,',
    '`FLEET_THREAD_POOLS__WORK__WORKERS=4`, `FLEET_LOGGING__WRITERS=[{type: console}]`.',
    'The value is read as a YAML scalar or flow value, so numbers, booleans and lists are checked by the same',
    'schema as the file; string fields take the text unchanged. An error names the variable instead of a line,',
    'e.g. `env FLEET_NETWORK__PORT messaging_system.network.port: expected an integer 0-65535, got "abc"`.',
    `Aliases for deployment: ${aliases.join(', ')}; the \`__\` form wins when both are set.`,
    'A `FLEET_..__..` variable that names no field is an error; `FLEET_` variables without `__` are not config.',
    'Overrides apply on top of the file; the hot reloader keeps the environment it started with.',
    '',
    '### OpenTelemetry variables',
    '',
    'The `tracing` section also yields to the standard OpenTelemetry variables (read by `@fleet/tracing` and the',
    'NodeSDK at start): **OTEL_\\* variables > the YAML `tracing` section (and its `FLEET_TRACING__*` overrides) >',
    'defaults**, field by field: `OTEL_SDK_DISABLED` over `enabled`; `OTEL_TRACES_EXPORTER`, or else',
    '`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` (export over OTLP there), over `exporter`',
    'and `otlp_endpoint`; `OTEL_TRACES_SAMPLER` (+ `OTEL_TRACES_SAMPLER_ARG`) over `sampling_ratio`;',
    '`OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` over `service_name`. An empty variable counts as unset.',
    'docs/observability.md ("Sending traces") has the list.',
    '',
    '## Secrets',
    '',
    'Fields marked **secret** below are never printed: errors say `got a value (hidden: secret)`,',
    '`redactConfig()` and `fleet config show` replace them with `***`, and `redactUrl()` masks passwords and',
    'token-like query parameters in connection strings before they are logged.',
    '',
    '## Hot reload',
    '',
    "`ConfigWatcher` (packages/config) watches the file's directory with chokidar, so saves by rename (vim,",
    'atomic writers) and a Kubernetes ConfigMap `..data` symlink swap are seen. Events are debounced 3 ms (no',
    '`awaitWriteFinish` 2 s window); the file is re-read and nothing happens when its text did not change.',
    '',
    '- **live** fields: applied; subscribers get the new frozen config and the dotted paths that changed.',
    '- **restart** fields: a change logs one warning and is not applied (the delivered config keeps the running',
    '  value) until the process restarts.',
    '- An invalid file keeps the last good config, logs one error with the lines above and counts a failure',
    '  (`failures`, `onInvalid`, `onReload(false, ms)` for the metrics package).',
    'See docs/benchmarks.md for the measured reload latency (target < 100 ms).',
    '',
    '## Fields',
    '',
  ];
  for (const [section, list] of sections) {
    out.push(
      `### ${section}`,
      '',
      '| Key | Type and range | Default | Reload | Env | Description |',
      '|---|---|---|---|---|---|',
    );
    for (const f of list) {
      const flags = f.meta.secret ? ' **secret**' : '';
      out.push(
        `| \`${f.key}\` | ${cell(describeSchema(f.schema))} | ${cell(showDefault(f))} | ${f.meta.reload} | \`${envVarFor(f.path)}\` | ${cell(f.meta.description)}${flags} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}
