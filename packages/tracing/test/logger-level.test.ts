import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeLogger, createLogger, logProcessed, logReceived, setLogLevel } from '../src/index.js';
import { readLines, tempDir } from './helpers.js';

const tmp = tempDir('level');
afterAll(() => tmp.cleanup());

describe('log level', () => {
  it('setLogLevel reaches the root and the children made before the change', async () => {
    const path = join(tmp.dir, 'app.log');
    const logger = createLogger({ name: 'worker', level: 'info', writers: [{ type: 'file', path }] });
    const child = logger.child({ component: 'a' });
    const grandchild = child.child({ component: 'b' });
    logReceived(grandchild, { topic: 't', size: 3, id: 'm0' });
    setLogLevel(logger, 'debug');
    expect(child.level).toBe('debug');
    expect(grandchild.level).toBe('debug');
    logReceived(grandchild, { topic: 'order.created', size: 10, id: 'm1' });
    logProcessed(child, { topic: 'order.created', id: 'm1', latencyMs: 1.5, status: 'completed' });
    setLogLevel(logger, 'warn');
    logger.info('hidden');
    logProcessed(child, { topic: 't', id: 'm2', latencyMs: 1, status: 'completed' });
    await closeLogger(logger);

    const lines = readLines(path);
    expect(lines.map((l) => l.msg)).toEqual(['message received', 'message processed']);
    expect(lines[0]).toMatchObject({ topic: 'order.created', size: 10, msg_id: 'm1', level: 20 });
    expect(lines[1]).toMatchObject({ latency_ms: 1.5, status: 'completed' });
  });
});
