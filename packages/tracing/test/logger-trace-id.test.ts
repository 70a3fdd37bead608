import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { closeLogger, createLogger, generateTraceparent, parseTraceparent, withTrace } from '../src/index.js';
import { readLines, tempDir } from './helpers.js';

const tmp = tempDir('trace-id');
afterAll(() => tmp.cleanup());

describe('logger trace id', () => {
  it('lines inside a message scope carry trace_id and span_id; lines outside do not', async () => {
    const path = join(tmp.dir, 'app.log');
    const logger = createLogger({ name: 'worker', level: 'debug', writers: [{ type: 'file', path }] });
    const child = logger.child({ component: 'router' });
    const tp = generateTraceparent();
    const t = parseTraceparent(tp)!;
    logger.info('before');
    await withTrace(tp, async () => {
      logger.info('start');
      await sleep(2);
      child.debug({ topic: 'order.created' }, 'handler');
    });
    logger.info('after');
    await closeLogger(logger);

    const lines = readLines(path);
    expect(lines.map((l) => l.msg)).toEqual(['before', 'start', 'handler', 'after']);
    for (const l of [lines[1]!, lines[2]!]) {
      expect(l.trace_id).toBe(t.traceId);
      expect(l.span_id).toBe(t.spanId);
    }
    expect(lines[2]!.component).toBe('router');
    expect(lines[0]!.trace_id).toBeUndefined();
    expect(lines[3]!.trace_id).toBeUndefined();
    expect(lines[0]!.name).toBe('worker');
  });
});
