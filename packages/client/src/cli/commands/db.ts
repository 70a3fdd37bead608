import { parseArgs } from 'node:util';
import { EXIT_OK, UsageError } from '../command.js';
import { formatTable } from '../table.js';

export const help = `Usage: fleet db migrate|status|partitions --config FILE [--json]

  migrate  apply the pending schema migrations of packages/store (what the persister does at start;
           several at once are safe: they wait on one advisory lock and migrate once)
  status   every migration: name, when it was applied, or "pending"; "unknown" marks one applied to the
           database but not known to this version (the database was migrated by a newer fleet)
  partitions the partitions of the message log, oldest first: number, first seq, when it was opened
           (became the one new rows go to) and closed, estimated rows ("-" before its first ANALYZE)

Options:
  --config FILE   fleet YAML config (database.connection_string; env FLEET_DATABASE_URL overrides it)
  --json          status as JSON lines ({"name", "state", "appliedAt"}), partitions as JSON lines
                  ({"n", "lo", "hi", "openedAt", "closedAt", "estRows"}), migrate as one JSON line`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [sub, extra] = positionals;
  if (sub !== 'migrate' && sub !== 'status' && sub !== 'partitions')
    throw new UsageError(
      sub
        ? `unknown subcommand "${sub}" (migrate, status, partitions)`
        : 'missing subcommand (migrate, status, partitions)',
    );
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  if (!values.config) throw new UsageError('--config FILE is required');

  const { loadConfigFile } = await import('@fleet/config');
  const store = await import('@fleet/store');
  const cfg = loadConfigFile(values.config);
  const url = cfg.database.connection_string;

  if (sub === 'migrate') {
    const applied = await store.migrate(url);
    if (values.json) process.stdout.write(`${JSON.stringify({ applied })}\n`);
    else if (applied.length === 0) process.stdout.write('nothing to apply: the schema is current\n');
    else process.stdout.write(`applied ${applied.length} migration(s): ${applied.join(', ')}\n`);
    return EXIT_OK;
  }

  const pool = store.createPool(
    url,
    { ...cfg.database.pool, min_connections: 0, max_connections: 1 },
    { applicationName: 'fleet-cli' },
  );
  try {
    if (sub === 'partitions') {
      const parts = await new store.PersistStore(pool).logPartitions();
      if (values.json) {
        for (const p of parts)
          process.stdout.write(
            `${JSON.stringify({ ...p, openedAt: p.openedAt?.toISOString() ?? null, closedAt: p.closedAt?.toISOString() ?? null })}\n`,
          );
      } else {
        const when = (d: Date | null) => d?.toISOString() ?? '-';
        const rows = parts.map((p) => [
          `messages_p${p.n}`,
          p.lo ?? 'MINVALUE',
          when(p.openedAt),
          p.openedAt ? when(p.closedAt) : '(created ahead)',
          p.estRows < 0 ? '-' : String(Math.round(p.estRows)),
        ]);
        process.stdout.write(
          `${formatTable(['PARTITION', 'FIRST SEQ', 'OPENED', 'CLOSED', 'EST. ROWS'], rows)}\n`,
        );
      }
      return EXIT_OK;
    }
    const states = await store.migrationStatus(pool);
    if (values.json) {
      for (const m of states)
        process.stdout.write(
          `${JSON.stringify({ name: m.name, state: m.state, appliedAt: m.appliedAt?.toISOString() ?? null })}\n`,
        );
    } else {
      const rows = states.map((m) => [
        m.name,
        m.appliedAt
          ? `${m.appliedAt.toISOString()}${m.state === 'unknown' ? ' (unknown to this version)' : ''}`
          : 'pending',
      ]);
      process.stdout.write(`${formatTable(['MIGRATION', 'APPLIED AT'], rows)}\n`);
      const pending = states.filter((m) => m.state === 'pending').length;
      process.stderr.write(
        pending === 0
          ? `schema current (${states.length} migration(s) applied)\n`
          : `${pending} pending migration(s): run fleet db migrate --config FILE (or start a persister)\n`,
      );
    }
    return EXIT_OK;
  } finally {
    await pool.end().catch(() => {});
  }
}
