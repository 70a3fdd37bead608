import { parseArgs } from 'node:util';
import { EXIT_OK, UsageError } from '../command.js';

export const help = `Usage: fleet replay --config FILE --group G --topic T [--from OFFSET] [--limit N]

Re-enqueues messages of topic T from the durable log (Postgres \`messages\`) for consumer group G, in log
order (messages.seq), starting after OFFSET (default: the group's saved offset, else the beginning).
Progress is saved after each page (consumer_offsets), so an interrupted replay resumes where it stopped.

Options:
  --config FILE   fleet YAML config (Postgres and Redis of the fleet)
  --group G       consumer group whose offset is read and saved
  --topic T       topic to replay (exact)
  --from OFFSET   start after this messages.seq (0 = from the beginning)
  --limit N       replay at most N messages`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      group: { type: 'string' },
      topic: { type: 'string' },
      from: { type: 'string' },
      limit: { type: 'string' },
    },
  });
  if (!values.config) throw new UsageError('--config FILE is required');
  if (!values.group) throw new UsageError('--group is required');
  if (!values.topic) throw new UsageError('--topic is required');
  if (values.from !== undefined && !/^\d+$/.test(values.from))
    throw new UsageError('--from must be a messages.seq (an integer)');
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw new UsageError('--limit must be a positive integer');

  const { loadConfigFile } = await import('@fleet/config');
  const { openOpsContext, replayRange } = await import('@fleet/dispatch');
  const ctx = openOpsContext(loadConfigFile(values.config));
  try {
    const res = await replayRange(ctx.store, ctx.dispatcher, {
      group: values.group,
      topic: values.topic,
      ...(values.from !== undefined ? { from: values.from } : {}),
      ...(limit !== undefined ? { limit } : {}),
    });
    process.stdout.write(`replayed ${res.replayed} message(s); group ${values.group} offset ${res.offset}\n`);
    return EXIT_OK;
  } finally {
    await ctx.close();
  }
}
