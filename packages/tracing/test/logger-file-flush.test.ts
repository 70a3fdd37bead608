import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeLogger, createLogger, flushLogger } from '../src/index.js';
import { readLines, tempDir } from './helpers.js';

const tmp = tempDir('flush');
afterAll(() => tmp.cleanup());

describe('file writer', () => {
  it('async writes reach the file after flushLogger (nothing lost on clean shutdown)', async () => {
    const path = join(tmp.dir, 'nested', 'app.log');
    const logger = createLogger({ name: 'persister', async: true, writers: [{ type: 'file', path }] });
    for (let i = 0; i < 1000; i++) logger.info({ i }, 'line');
    await flushLogger(logger);
    const lines = readLines(path);
    expect(lines).toHaveLength(1000);
    expect(lines[999]!.i).toBe(999);
    logger.warn('last');
    await closeLogger(logger);
    expect(readLines(path)).toHaveLength(1001);
  });

  it('writes to several writers at once', async () => {
    const a = join(tmp.dir, 'a.log');
    const b = join(tmp.dir, 'b.log');
    const logger = createLogger({
      name: 'x',
      async: true,
      writers: [
        { type: 'file', path: a },
        { type: 'file', path: b },
      ],
    });
    logger.info('both');
    await flushLogger(logger);
    expect(existsSync(a) && readFileSync(a, 'utf8')).toContain('"both"');
    expect(readFileSync(b, 'utf8')).toContain('"both"');
    await closeLogger(logger);
  });
});
