import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentPartition } from '../../../packages/store/test/fixtures.js';
import { type Persister, startPersister } from '../src/persister.js';
import { count, type Harness, harness, memoryLogger, publish, waitUntil } from './harness.js';

/**
 * The persister analyzes the partition new rows go to once it holds 4 MB (PersistStore.analyzeYoungPartition,
 * every second), so that its prepared statements stop using plans made on the empty partition. The
 * shared test server runs with autovacuum off, so nothing else analyzes it here.
 */
describe('persister: a young partition is analyzed early', () => {
  let h: Harness;
  let p: Persister;

  beforeAll(async () => {
    h = await harness('young_part');
    p = await startPersister(h.cfg, { logger: memoryLogger(), ops: false, consumerName: 'young-a' });
  });
  afterAll(async () => {
    await p?.close();
    await h?.close();
  });

  const state = () => currentPartition(h.pool);

  it('within seconds of passing 4 MB, not a minute later', async () => {
    let sent = 0;
    while ((await state()).bytes < 4 * 1024 * 1024) {
      const ids = Array.from({ length: 5000 }, (_, i) => `young-${sent + i}`);
      await publish(h, ids);
      sent += ids.length;
      await waitUntil(
        async () => (await count(h, 'SELECT count(*) AS n FROM messages')) === sent,
        20_000,
        'rows',
      );
    }
    await waitUntil(async () => (await state()).reltuples > 0, 5_000, 'the partition analyzed');
    expect((await state()).reltuples).toBeGreaterThan(sent / 2);
  }, 60_000);
});
