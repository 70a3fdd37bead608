import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { closeLogger, createLogger } from '../src/index.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('roll');
afterAll(() => tmp.cleanup());

describe('rotating_file writer (pino-roll)', () => {
  it('writes lines and rotates by size', async () => {
    const path = join(tmp.dir, 'logs', 'fleet.log');
    const logger = createLogger({
      name: 'gateway',
      async: true,
      writers: [{ type: 'rotating_file', path, size: '1k', limit: 5 }],
    });
    // Bursts with pauses: pino-roll rolls after a write completes, as it would under real traffic.
    for (let burst = 0; burst < 5; burst++) {
      for (let i = burst * 40; i < (burst + 1) * 40; i++) logger.info({ i, pad: 'x'.repeat(40) }, 'rolling');
      await sleep(100);
    }
    await closeLogger(logger);
    const files = readdirSync(join(tmp.dir, 'logs'));
    expect(files.length).toBeGreaterThan(1);
    const all = files.map((f) => readFileSync(join(tmp.dir, 'logs', f), 'utf8')).join('');
    expect(all).toContain('"i":199');
  });
});
