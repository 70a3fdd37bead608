import { existsSync, readFileSync } from 'node:fs';
import { type CliCommandModule, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './command.js';

/**
 * The command registry of the `fleet` CLI.
 * To add a command: create src/cli/commands/<name>.ts exporting `help` (string) and
 * `run(argv: string[]): Promise<number>` (see CliCommandModule in command.ts), then add ONE line here:
 *   <name>: { summary: '<one line for fleet --help>', load: () => import('./commands/<name>.js') },
 * Modules load lazily, so one command's dependencies (Redis, pg, ...) cost nothing to the others.
 * Print results to stdout, problems to stderr (one line each, no stack traces), return the exit code;
 * throw UsageError for bad arguments (exit 2). A ConfigError thrown anywhere prints its lines (exit 1).
 */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommandModule> }> = {
  config: {
    summary: 'validate or print a config file (fleet config check FILE)',
    load: () => import('./commands/config.js'),
  },
  publish: {
    summary: 'publish a message and wait for its ACK (fleet publish TOPIC PAYLOAD)',
    load: () => import('./commands/publish.js'),
  },
  request: {
    summary: 'send a request and print the reply (fleet request TOPIC PAYLOAD)',
    load: () => import('./commands/request.js'),
  },
  bench: {
    summary: 'load generator: acked msg/s and ACK latency against a gateway',
    load: () => import('./commands/bench.js'),
  },
  demo: {
    summary: 'publish sample traffic to a running fleet and show it flowing (fleet demo --count N)',
    load: () => import('./commands/demo.js'),
  },
  'dead-letters': {
    summary: 'list, replay or purge DEAD messages (fleet dead-letters list --config FILE)',
    load: () => import('./commands/dead-letters.js'),
  },
  db: {
    summary: 'run or show the schema migrations by hand (fleet db migrate|status --config FILE)',
    load: () => import('./commands/db.js'),
  },
  replay: {
    summary: 're-enqueue a topic from the durable log (fleet replay --config F --group G --topic T)',
    load: () => import('./commands/replay.js'),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: fleet <command> [args]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `fleet <command> --help` for its options; `fleet --version` prints the version.',
  ].join('\n');
}

// Duck-typed so `fleet --help` does not load @fleet/config (zod, yaml, chokidar).
const isConfigError = (e: unknown): e is { problems: string[] } =>
  e instanceof Error && e.name === 'ConfigError' && Array.isArray((e as { problems?: unknown }).problems);

/** The version in @fleet/client's package.json: the nearest one above this file, as source or as dist/cli.js. */
export function cliVersion(): string {
  let dir = new URL('./', import.meta.url);
  while (!existsSync(new URL('package.json', dir))) {
    const parent = new URL('../', dir);
    if (parent.href === dir.href) return 'unknown';
    dir = parent;
  }
  return (
    (JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { version?: string }).version ??
    'unknown'
  );
}

const isHelp = (a: string | undefined) => a === '--help' || a === '-h' || a === 'help';

/** Runs the CLI with process.argv.slice(2); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    process.stdout.write(`fleet ${cliVersion()}\n`);
    return EXIT_OK;
  }
  if (name === undefined || isHelp(name)) {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic === undefined) {
      (name === undefined ? process.stderr : process.stdout).write(usage() + '\n');
      return name === undefined ? EXIT_USAGE : EXIT_OK;
    }
    return main([topic, '--help']);
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    process.stderr.write(
      `fleet: unknown command "${name}" (commands: ${Object.keys(COMMANDS).sort().join(', ')}; see fleet --help)\n`,
    );
    return EXIT_USAGE;
  }
  try {
    const cmd = await entry.load();
    if (rest.some((a) => a === '--help' || a === '-h')) {
      process.stdout.write(cmd.help.trimEnd() + '\n');
      return EXIT_OK;
    }
    return await cmd.run(rest);
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(err.problems.join('\n') + '\n');
      return EXIT_FAILURE;
    }
    if (err instanceof UsageError || (err as NodeJS.ErrnoException)?.code?.startsWith?.('ERR_PARSE_ARGS')) {
      process.stderr.write(
        `fleet ${name}: ${(err as Error).message.split('\n')[0]} (see fleet ${name} --help)\n`,
      );
      return EXIT_USAGE;
    }
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    process.stderr.write(`fleet ${name}: ${message}\n`);
    if (process.env.FLEET_DEBUG) console.error(err);
    return EXIT_FAILURE;
  }
}
