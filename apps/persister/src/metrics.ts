import type { FleetConfig } from '@fleet/config';
import { createRegistry, persisterMetrics, registersOf, TopicLabeler } from '@fleet/metrics';
import { Counter, Gauge, type Registry } from 'prom-client';

const PG_AUTOVACUUM_ENABLED = 'fleet_persister_pg_autovacuum_enabled';

/**
 * The persister's metrics: the fleet's persister set (@fleet/metrics) plus the few series only the
 * stream side knows about (duplicates, dead stream entries, sweeps, dependency state).
 */
export function createPersisterMetrics(cfg: FleetConfig, registry?: Registry) {
  const r = registry ?? createRegistry({ app: 'persister', enabled: cfg.monitoring.enabled });
  const regs = registersOf(r);
  const labeler = new TopicLabeler({
    topicLabels: cfg.monitoring.topic_labels,
    segments: cfg.monitoring.topic_label_segments,
    maxLabels: cfg.monitoring.max_topic_labels,
  });
  // Joins the registry with its first value: an unlabelled gauge reads 0 until set, which would say "off"
  // (and fire FleetAutovacuumOff) while the start-up check has not answered, or when it failed.
  const pgAutovacuumEnabled = new Gauge({
    name: PG_AUTOVACUUM_ENABLED,
    help: '1 when autovacuum can run for messages and messages_open, 0 when not (a server setting or a table reloption turns it off); checked once at start.',
    registers: [],
  });
  return {
    registry: r,
    labeler,
    ...persisterMetrics(r),
    duplicates: new Counter({
      name: 'fleet_persister_messages_duplicate_total',
      help: 'Stream entries whose message id was already in messages (replays, client resends).',
      registers: regs,
    }),
    deadEntries: new Counter({
      name: 'fleet_persister_dead_entries_total',
      help: 'Stream entries dead-lettered before reaching messages, by reason.',
      labelNames: ['reason'],
      registers: regs,
    }),
    messagesEnqueued: new Counter({
      name: 'fleet_persister_messages_enqueued_total',
      help: 'Messages carried by added BullMQ jobs.',
      registers: regs,
    }),
    swept: new Counter({
      name: 'fleet_persister_swept_total',
      help: 'Rows re-dispatched by the sweep.',
      registers: regs,
    }),
    dispatchPaused: new Gauge({
      name: 'fleet_persister_memory_paused',
      help: '1 while Redis memory is above pressure.dispatch_memory_high and the persister makes no new jobs.',
      registers: regs,
    }),
    readPauses: new Counter({
      name: 'fleet_persister_read_pauses_total',
      help: 'Turns of the ingest reader that read nothing because the queue backlog or Redis memory was above its bound (one per 200 ms while paused).',
      registers: regs,
    }),
    dependencyUp: new Gauge({
      name: 'fleet_persister_dependency_up',
      help: '1 while the dependency answers, 0 while the persister is backing off from it.',
      labelNames: ['dependency'],
      registers: regs,
    }),
    /** Sets fleet_persister_pg_autovacuum_enabled (registered at the first call). */
    setPgAutovacuumEnabled(on: boolean) {
      for (const reg of regs)
        if (!reg.getSingleMetric(PG_AUTOVACUUM_ENABLED)) reg.registerMetric(pgAutovacuumEnabled);
      pgAutovacuumEnabled.set(on ? 1 : 0);
    },
  };
}

export type PersisterMetrics = ReturnType<typeof createPersisterMetrics>;
