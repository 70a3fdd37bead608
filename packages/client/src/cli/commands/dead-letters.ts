import { parseArgs } from 'node:util';
import { EXIT_OK, UsageError } from '../command.js';

export const help = `Usage: fleet dead-letters list|replay|purge --config FILE [options]

  list     DEAD messages, most recent first: id, topic, retries, last error, when
  replay   DEAD -> PENDING and a fresh job for each (needs --id or --all)
  purge    delete DEAD messages (needs --id or --all)

Options:
  --config FILE   fleet YAML config (Postgres and Redis of the fleet)
  --id ID         a message id, repeatable (replay, purge)
  --all           every dead letter (replay, purge)
  --topic T       only this topic (list)
  --limit N       most rows listed (default 100)
  --json          list as JSON lines`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      id: { type: 'string', multiple: true },
      all: { type: 'boolean', default: false },
      topic: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [sub] = positionals;
  if (sub !== 'list' && sub !== 'replay' && sub !== 'purge')
    throw new UsageError(
      sub ? `unknown subcommand "${sub}" (list, replay, purge)` : 'missing subcommand (list, replay, purge)',
    );
  if (!values.config) throw new UsageError('--config FILE is required');
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive integer');
  const ids: string[] | 'all' | null = values.all
    ? 'all'
    : values.id && values.id.length > 0
      ? values.id
      : null;
  if (sub !== 'list' && ids === null) throw new UsageError(`${sub} needs --id ID (repeatable) or --all`);

  const { loadConfigFile } = await import('@fleet/config');
  const ops = await import('@fleet/dispatch');
  const ctx = ops.openOpsContext(loadConfigFile(values.config));
  try {
    if (sub === 'list') {
      const rows = await ops.listDeadLetters(ctx.store, {
        limit,
        ...(values.topic ? { topic: values.topic } : {}),
      });
      for (const r of rows) {
        if (values.json) process.stdout.write(`${JSON.stringify(ops.deadLetterView(r))}\n`);
        else
          process.stdout.write(
            `${r.id}\t${r.topic}\tretries=${r.retryCount}\t${r.updatedAt.toISOString()}\t${(r.lastError ?? '').replace(/\s+/g, ' ').slice(0, 200)}\n`,
          );
      }
      if (!values.json) process.stderr.write(`${rows.length} dead letter(s)\n`);
    } else if (sub === 'replay') {
      const replayed = await ops.replayDeadLetters(ctx.store, ctx.dispatcher, ids as string[] | 'all');
      process.stdout.write(`replayed ${replayed.length} message(s)\n`);
    } else {
      const purged = await ops.purgeDeadLetters(ctx.store, ids as string[] | 'all');
      process.stdout.write(`purged ${purged} message(s)\n`);
    }
    return EXIT_OK;
  } finally {
    await ctx.close();
  }
}
