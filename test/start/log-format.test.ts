// scripts/log-format.ts, the output decisions of `npm start`: colour only on a terminal and never with
// NO_COLOR, human lines for pino records on a terminal, raw lines otherwise. The piped end-to-end check
// (no ESC in `npm start`'s redirected output) is in start-command.test.ts.
import { describe, expect, it } from 'vitest';
import { appTag, colorEnabled, formatLogLine, prettyEnabled } from '../../scripts/log-format.js';

const tty = { isTTY: true };
const pipe = { isTTY: false };
const record = (o: Record<string, unknown>) =>
  JSON.stringify({
    level: 30,
    time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
    pid: 7,
    hostname: 'h',
    name: 'persister',
    ...o,
  });

describe('npm start output format', () => {
  it('colour: a terminal without NO_COLOR; FORCE_COLOR forces it; NO_COLOR wins', () => {
    // Mutations tried: NO_COLOR ignored, and isTTY ignored (colour always): each failed here.
    expect(colorEnabled(tty, {})).toBe(true);
    expect(colorEnabled(pipe, {})).toBe(false);
    expect(colorEnabled({}, {})).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '' })).toBe(true); // no-color.org: present and not empty
    expect(colorEnabled(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled(pipe, { FORCE_COLOR: '0' })).toBe(false);
    expect(colorEnabled(tty, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(false);
  });

  it('human lines: on a terminal unless --json-logs', () => {
    expect(prettyEnabled(tty, false)).toBe(true);
    expect(prettyEnabled(tty, true)).toBe(false);
    expect(prettyEnabled(pipe, false)).toBe(false);
  });

  it('the app tag: padded name and a bar, coloured only when colour is on', () => {
    expect(appTag('worker', 33, false)).toBe('worker    |');
    expect(appTag('worker', 33, true)).toBe('\x1b[33mworker    \x1b[0m|');
  });

  it('raw mode passes every line through unchanged', () => {
    const line = record({ msg: 'ready', port: 7400 });
    expect(formatLogLine(line, { pretty: false, color: false })).toBe(line);
    expect(formatLogLine('plain text', { pretty: true, color: true })).toBe('plain text');
    expect(formatLogLine('{not json', { pretty: true, color: false })).toBe('{not json');
  });

  it('pretty: time, level, message, then the record fields (pino bookkeeping dropped)', () => {
    const out = formatLogLine(
      record({ msg: 'ready', port: 7400, ops: 'http://127.0.0.1:7401', note: 'a b' }),
      {
        pretty: true,
        color: false,
      },
    );
    expect(out).toMatch(
      /^\d\d:\d\d:\d\d\.006 INFO {2}ready port=7400 ops=http:\/\/127\.0\.0\.1:7401 note="a b"$/,
    );
    expect(out).not.toMatch(/pid|hostname|persister/);
    expect(formatLogLine(record({ level: 40, msg: 'slow' }), { pretty: true, color: false })).toMatch(
      / WARN {2}slow$/,
    );
  });

  it('pretty: an error record shows the error and its stack on indented lines', () => {
    const err = {
      type: 'Error',
      message: 'boom',
      stack: 'Error: boom\n    at f (x.ts:1:1)\n    at g (y.ts:2:2)',
    };
    const out = formatLogLine(record({ level: 50, msg: 'failed', err }), { pretty: true, color: false });
    expect(out.split('\n')).toEqual([
      expect.stringMatching(/ ERROR failed err="Error: boom"$/),
      '    at f (x.ts:1:1)',
      '    at g (y.ts:2:2)',
    ]);
  });

  it('pretty with colour: the level is coloured; without colour no ESC at all', () => {
    const line = record({ level: 50, msg: 'x' });
    expect(formatLogLine(line, { pretty: true, color: true })).toContain('\x1b[31mERROR\x1b[0m');
    expect(formatLogLine(line, { pretty: true, color: false })).not.toContain('\x1b');
  });
});
