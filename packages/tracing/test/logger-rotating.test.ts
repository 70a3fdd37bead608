import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { closeLogger, createLogger, flushLogger } from '../src/index.js';
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
    // Bursts with pauses: pino-roll rolls after a write completes, as under real traffic. The
    // transport worker may start slowly on a busy machine, so keep writing until a roll is seen.
    const dir = join(tmp.dir, 'logs');
    let i = 0;
    for (let burst = 0; burst < 50; burst++) {
      for (const end = i + 40; i < end; i++) logger.info({ i, pad: 'x'.repeat(40) }, 'rolling');
      await flushLogger(logger);
      await sleep(50);
      if (existsSync(dir) && readdirSync(dir).length > 1) break;
    }
    await closeLogger(logger);
    const files = readdirSync(join(tmp.dir, 'logs'));
    expect(files.length).toBeGreaterThan(1);
    const all = files.map((f) => readFileSync(join(tmp.dir, 'logs', f), 'utf8')).join('');
    expect(all).toContain(`"i":${i - 1},`);
  });
});
