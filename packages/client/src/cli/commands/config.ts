import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile, redactConfig } from '@fleet/config';
import { stringify } from 'yaml';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../command.js';

export const help = `Usage:
  fleet config check FILE... [--ignore-env]   validate; prints "ok" (exit 0) or one line per problem (exit 1)
  fleet config show FILE [--ignore-env]       print the effective config (defaults and env applied, secrets hidden)

Environment overrides FLEET_<SECTION>__<FIELD> (and FLEET_DATABASE_URL, FLEET_REDIS_URL) are applied
unless --ignore-env is given. Reference: docs/configuration.md`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'ignore-env': { type: 'boolean', default: false } },
  });
  const [sub, ...files] = positionals;
  const env = values['ignore-env'] ? {} : process.env;
  if (sub !== 'check' && sub !== 'show')
    throw new UsageError(sub ? `unknown subcommand "${sub}"` : 'missing subcommand (check or show)');
  if (files.length === 0) throw new UsageError(`${sub} needs a FILE`);

  if (sub === 'show') {
    if (files.length > 1) throw new UsageError('show takes one FILE');
    const cfg = loadConfigFile(files[0]!, env);
    process.stdout.write(stringify({ messaging_system: redactConfig(cfg) }));
    return EXIT_OK;
  }

  let failed = false;
  for (const file of files) {
    try {
      loadConfigFile(file, env);
      process.stdout.write(files.length === 1 ? 'ok\n' : `${file}: ok\n`);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(err.problems.join('\n') + '\n');
      failed = true;
    }
  }
  return failed ? EXIT_FAILURE : EXIT_OK;
}
