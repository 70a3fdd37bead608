// The dead letters in the ops UI (issue 19: they were only in the CLI and the JSON endpoint): /ops links to
// /ops/dead-letters.html, a read-only table of the most recent dead letters with their true total, filtered
// by topic, every value HTML-escaped, behind the ops server's basic auth like the rest of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { age, forceStatus } from '../../../packages/store/test/fixtures.js';
import { type Persister, startPersister } from '../src/persister.js';
import { count, type Harness, harness, memoryLogger, publish, waitUntil } from './harness.js';

const AUTH = { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` };

describe('persister ops server: dead letters page', () => {
  let h: Harness;
  let p: Persister;
  let base: string;

  beforeAll(async () => {
    h = await harness('opsdlp', { ops: { basic_auth: { username: 'ops', password: 's3cret' } } });
    p = await startPersister(h.cfg, { logger: memoryLogger(), opsPort: 0, consumerName: 'opsdlp-a' });
    base = p.opsUrl as string;
    await publish(h, ['a-1', 'a-2', 'a-3'], { topic: 'billing.paid' });
    await publish(h, ['b-1'], { topic: 'other.topic' });
    await waitUntil(async () => (await count(h, 'SELECT count(*) AS n FROM messages')) === 4, 20_000, 'rows');
    await forceStatus(h.pool, ['a-1', 'a-2', 'a-3'], 'DEAD', { lastError: 'no handler', retryCount: 3 });
    await forceStatus(h.pool, ['b-1'], 'DEAD', { lastError: '<script>alert("x")</script> & more' });
    // One persist batch may hold them all (one updated_at): make b-1 the most recently dead.
    await age(h.pool, ['a-1', 'a-2', 'a-3'], 60);
  });
  afterAll(async () => {
    await p?.close();
    await h?.close();
  });

  it('needs the ops credentials, like every other ops page', async () => {
    for (const path of ['/ops', '/ops/dead-letters.html', '/ops/dead-letters.html?topic=billing.paid'])
      expect((await fetch(`${base}${path}`)).status, path).toBe(401);
  });

  it('/ops links Bull Board and the dead letters page', async () => {
    const res = await fetch(`${base}/ops`, { headers: AUTH });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('href="/ops/queues"');
    expect(html).toContain('href="/ops/dead-letters.html"');
  });

  // Mutation tried: escapeHtml made the identity -> the <script> assertions failed.
  it('shows the dead letters as a table with their total, escaped, newest first; topic filters', async () => {
    const res = await fetch(`${base}/ops/dead-letters.html?limit=2`, { headers: AUTH });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/<p id="summary">4 dead letters; the 2 most recent below\.<\/p>/);
    expect(html).toContain('<th>ID</th><th>Topic</th><th>Retries</th><th>Dead since</th><th>Last error</th>');
    expect(html.match(/<tr><td>/g)).toHaveLength(2);
    // b-1 went DEAD last: first row, its error escaped (no markup from a message reaches the page).
    expect(html).toContain('<code>b-1</code>');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more');

    const topic = await (
      await fetch(`${base}/ops/dead-letters.html?topic=billing.paid`, { headers: AUTH })
    ).text();
    expect(topic).toMatch(/3 dead letters on topic <code>billing\.paid<\/code>; the 3 most recent below\./);
    expect(topic.match(/<tr><td>/g)).toHaveLength(3);
    expect(topic).not.toContain('<code>b-1</code>');
    expect(topic).toContain('value="billing.paid"');

    const none = await (
      await fetch(`${base}/ops/dead-letters.html?topic=nothing.here`, { headers: AUTH })
    ).text();
    expect(none).toContain('No dead letters on topic <code>nothing.here</code>.');
  });

  it('the JSON endpoint carries the total too', async () => {
    const res = await fetch(`${base}/ops/dead-letters?limit=1`, { headers: AUTH });
    const body = (await res.json()) as { deadLetters: unknown[]; total: { n: number; exact: boolean } };
    expect(body.deadLetters).toHaveLength(1);
    expect(body.total).toEqual({ n: 4, exact: true });
  });

  it('changes nothing: the page is read-only', async () => {
    expect((await fetch(`${base}/ops/dead-letters.html`, { method: 'POST', headers: AUTH })).status).toBe(
      404,
    );
    expect(await count(h, "SELECT count(*) AS n FROM messages WHERE status = 'DEAD'")).toBe(4);
  });
});
