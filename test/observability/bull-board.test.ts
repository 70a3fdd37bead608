// Bull Board in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
// no browser download) opens the persister's /ops/queues with basic-auth credentials, sees the fleet queue
// and its job counts, and saves a screenshot under test-output/. Without credentials the page is refused.
// Skipped (with the reason) on machines without /usr/bin/chromium; a strict run (CI) fails there instead.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@fleet/client';
import { type FleetConfig, loadConfigFile } from '@fleet/config';
import { type Gateway, startGateway } from '@fleet/gateway';
import { type Persister, startPersister } from '@fleet/persister';
import { createLogger } from '@fleet/tracing';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig } from '../helpers/config.js';
import { REPO_ROOT } from '../helpers/processes.js';
import {
  cleanupRedisPrefix,
  type FreshDatabase,
  freshDatabase,
  strictRun,
  uniquePrefix,
} from '../helpers/services.js';

const CHROMIUM = '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = `${CHROMIUM} not found (install Debian's chromium package: apt-get install -y chromium)`;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const CREDENTIALS = { username: 'ops', password: 'board-test-secret' };
const JOBS = 3;

let cfg: FleetConfig;
let db: FreshDatabase | undefined;
let prefix: string;
let gateway: Gateway | undefined;
let persister: Persister | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!HAS_CHROMIUM) {
    if (strictRun()) throw new Error(`${SKIP_REASON}: a strict run (FLEET_TEST_STRICT=1, CI) needs it`);
    console.warn(`bull-board test skipped: ${SKIP_REASON}`);
    return;
  }
  db = await freshDatabase('obs_board');
  prefix = uniquePrefix('obs-board');
  const written = await writeTestConfig({
    redis: { key_prefix: prefix },
    database: { connection_string: db.url, pool: { max_connections: 4 } },
    queue: { batch_size: 1 },
    streams: { block_ms: 50 },
    monitoring: { enabled: false },
    ops: { basic_auth: CREDENTIALS },
  });
  cfg = loadConfigFile(written.path, {});
  const quiet = () => createLogger({ name: 'board-test', level: 'warn' });
  gateway = await startGateway(cfg, { logger: quiet() });
  persister = await startPersister(cfg, { logger: quiet(), opsPort: 0 });
  // No worker runs: the jobs stay waiting and Bull Board shows them.
  const client = await connect({ host: '127.0.0.1', port: gateway.port });
  try {
    for (let i = 0; i < JOBS; i++) await client.publish('board.shown', { i }, { ack: 'durable' });
  } finally {
    await client.close();
  }
  const end = Date.now() + 20_000;
  while ((await persister.bull.getWaitingCount()) < JOBS) {
    if (Date.now() > end) throw new Error('jobs were not enqueued');
    await new Promise((r) => setTimeout(r, 50));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await persister?.close();
  await gateway?.close();
  if (prefix) await cleanupRedisPrefix(prefix).catch(() => {});
  await db?.drop().catch(() => {});
}, 60_000);

describe('Bull Board in headless Chromium', () => {
  it('shows the fleet queue with its counts', async ({ skip }) => {
    skip(!HAS_CHROMIUM, SKIP_REASON);
    const context = await browser!.newContext({ httpCredentials: CREDENTIALS });
    try {
      const page = await context.newPage();
      const res = await page.goto(`${persister!.opsUrl}/ops/queues`);
      expect(res?.status()).toBe(200);
      // The board is a single-page app: the queue card appears once its API call answered.
      const card = page.getByText(cfg.queue.name, { exact: true }).first();
      await card.waitFor({ timeout: 20_000 });
      await page
        .getByText(/waiting/i)
        .first()
        .waitFor({ timeout: 20_000 });
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text keeps labels and counts apart
      const text = await page.locator('body').innerText();
      expect(text).toMatch(new RegExp(`waiting\\s*${JOBS}\\b|\\b${JOBS}\\s*waiting`, 'i'));
      expect(text).toMatch(new RegExp(`\\b${JOBS} jobs\\b`, 'i'));
      const dir = join(REPO_ROOT, 'test-output');
      await mkdir(dir, { recursive: true });
      await page.screenshot({ path: join(dir, 'bull-board.png'), fullPage: true });
      expect(existsSync(join(dir, 'bull-board.png'))).toBe(true);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('refuses the page without credentials (401)', async ({ skip }) => {
    skip(!HAS_CHROMIUM, SKIP_REASON);
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      const statuses: number[] = [];
      page.on('response', (r) => {
        if (r.url().endsWith('/ops/queues')) statuses.push(r.status());
      });
      // Headless Chromium turns an unanswered auth challenge into a failed navigation.
      const res = await page.goto(`${persister!.opsUrl}/ops/queues`).catch((err: Error) => {
        expect(err.message).toMatch(/ERR_INVALID_AUTH_CREDENTIALS/);
        return null;
      });
      expect(res?.status() ?? statuses[0]).toBe(401);
      expect(await page.getByText(cfg.queue.name, { exact: true }).count()).toBe(0);
    } finally {
      await context.close();
    }
    const wrong = await fetch(`${persister!.opsUrl}/ops/queues/api/queues`, {
      headers: { authorization: `Basic ${Buffer.from('ops:wrong').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
  }, 60_000);
});
