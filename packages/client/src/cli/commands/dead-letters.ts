import { parseArgs } from 'node:util';
import { EXIT_OK, UsageError } from '../command.js';
import { formatCount, formatTable } from '../table.js';

export const help = `Usage: fleet dead-letters list|replay|purge --config FILE [options]

  list     DEAD messages, most recent first: a table (id, topic, retries, dead since, last error) on
           stdout, then the total on stderr ("at least N" past 1,000,000, or 100,000 with --topic)
  replay   DEAD -> PENDING and a fresh job for each (needs --id or --all)
  purge    delete DEAD messages (needs --id or --all)

Options:
  --config FILE   fleet YAML config (Postgres and Redis of the fleet)
  --id ID         a message id, repeatable (replay, purge)
  --all           every dead letter (replay, purge)
  --topic T       only this topic (list)
  --limit N       most rows listed (default 100)
  --json          list as JSON lines (one object per dead letter) instead of the table`;

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
      const topic = values.topic ? { topic: values.topic } : {};
      // The total is counted apart from the page listed (a bounded count: see countDeadLetters).
      const [rows, total] = await Promise.all([
        ops.listDeadLetters(ctx.store, { limit, ...topic }),
        ops.countDeadLetters(ctx.store, topic),
      ]);
      if (values.json) {
        for (const r of rows) process.stdout.write(`${JSON.stringify(ops.deadLetterView(r))}\n`);
      } else if (rows.length > 0) {
        const table = formatTable(
          ['ID', 'TOPIC', 'RETRIES', 'DEAD SINCE', 'LAST ERROR'],
          rows.map((r) => [
            r.id,
            r.topic,
            String(r.retryCount),
            r.updatedAt.toISOString(),
            (r.lastError ?? '').replace(/\s+/g, ' ').slice(0, 120),
          ]),
        );
        process.stdout.write(`${table}\n`);
      }
      process.stderr.write(`${deadLetterSummary(rows.length, total, values.topic)}\n`);
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

/** The line under the listing: the true total (or its lower bound) and how much of it was shown. */
export function deadLetterSummary(
  shown: number,
  total: { n: number; exact: boolean },
  topic?: string,
): string {
  // Two statements: rows dead-lettered between them can make the page the larger.
  const n = Math.max(total.n, shown);
  const what = `${total.exact ? '' : 'at least '}${formatCount(n)} dead letter${n === 1 ? '' : 's'}${topic ? ` on topic ${topic}` : ''}`;
  if (n === 0) return `no dead letters${topic ? ` on topic ${topic}` : ''}`;
  if (shown >= n && total.exact) return what;
  return `${what}; showing the ${formatCount(shown)} most recent (--limit N for more)`;
}
