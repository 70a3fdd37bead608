import { describe, expect, it } from 'vitest';
import { LazyChildLogger } from '../src/lazy-logger.js';
import type { RouterLogger } from '../src/types.js';

/** A logger that records children made and lines written, with pino's level order. */
function recordingLogger(minLevel: string) {
  const order = ['trace', 'debug', 'info', 'warn', 'error'];
  const lines: Array<{ level: string; bindings: Record<string, unknown>; obj: unknown; msg?: string }> = [];
  let children = 0;
  const make = (bindings: Record<string, unknown>): RouterLogger => {
    const log = (level: string) => (obj: unknown, msg?: string) => lines.push({ level, bindings, obj, msg });
    return {
      child: (b) => {
        children++;
        return make({ ...bindings, ...b });
      },
      isLevelEnabled: (level) => order.indexOf(level) >= order.indexOf(minLevel),
      trace: log('trace'),
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
    };
  };
  return { logger: make({}), lines, children: () => children };
}

describe('LazyChildLogger', () => {
  it('makes no child for lines below the level', () => {
    const rec = recordingLogger('info');
    const log = new LazyChildLogger(rec.logger, { topic: 'a.b', msgId: '1' });
    for (let i = 0; i < 100; i++) log.debug({ i }, 'skipped');
    expect(rec.children()).toBe(0);
    expect(rec.lines).toEqual([]);
  });

  it('writes enabled lines through one child carrying the bindings', () => {
    const rec = recordingLogger('info');
    const log = new LazyChildLogger(rec.logger, { topic: 'a.b', msgId: '1' });
    log.info({ n: 1 }, 'first');
    log.warn({ n: 2 });
    expect(rec.children()).toBe(1);
    expect(rec.lines).toEqual([
      { level: 'info', bindings: { topic: 'a.b', msgId: '1' }, obj: { n: 1 }, msg: 'first' },
      { level: 'warn', bindings: { topic: 'a.b', msgId: '1' }, obj: { n: 2 }, msg: undefined },
    ]);
  });

  it('child() merges bindings and stays lazy', () => {
    const rec = recordingLogger('debug');
    const log = new LazyChildLogger(rec.logger, { topic: 'a.b' }).child({ step: 'x' });
    log.trace('nothing');
    expect(rec.children()).toBe(0);
    log.debug('now');
    expect(rec.lines[0]!.bindings).toEqual({ topic: 'a.b', step: 'x' });
  });
});
