// How `npm start` (scripts/start.ts) prints its apps' output: pure functions, unit-tested in
// test/start/log-format.test.ts.
//  - Colour only on a terminal, and never with NO_COLOR set (https://no-color.org); FORCE_COLOR forces it.
//  - On a terminal each pino JSON record becomes one compact human line (time, level, message, fields);
//    redirected, the app's line is passed on untouched (raw JSON, what scripts and tests parse), behind
//    the same `name      |` prefix either way.

type Env = Record<string, string | undefined>;

/** Colour codes in the output: a terminal, NO_COLOR unset or empty; FORCE_COLOR (not 0/false) wins over no terminal. */
export function colorEnabled(stream: { isTTY?: boolean }, env: Env): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return true;
  return stream.isTTY === true;
}

/** Human log lines: on a terminal, unless `npm start -- --json-logs` asked for the raw records. */
export function prettyEnabled(stream: { isTTY?: boolean }, jsonLogs: boolean): boolean {
  return !jsonLogs && stream.isTTY === true;
}

export interface LineFormat {
  color: boolean;
  pretty: boolean;
}

const ESC = '\x1b[';
const paint = (on: boolean, code: number, s: string) => (on ? `${ESC}${code}m${s}${ESC}0m` : s);

/** The `name      |` prefix of an app's lines (coloured by app when colour is on). */
export function appTag(name: string, colorCode: number, color: boolean): string {
  return `${paint(color, colorCode, name.padEnd(10))}|`;
}

const LEVELS: Record<number, [string, number]> = {
  10: ['TRACE', 90],
  20: ['DEBUG', 34],
  30: ['INFO', 32],
  40: ['WARN', 33],
  50: ['ERROR', 31],
  60: ['FATAL', 41],
};
/** pino's own fields, shown in the line's fixed part or not at all. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'v']);

const pad2 = (n: number) => String(n).padStart(2, '0');
function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v !== null && typeof v === 'object' && 'message' in v && 'type' in v)
    return JSON.stringify(`${(v as { type: string }).type}: ${(v as { message: string }).message}`);
  return JSON.stringify(v) ?? String(v);
}

/**
 * One line of an app's output as shown: with `pretty`, a pino record becomes
 * `HH:MM:SS.mmm LEVEL message key=value ...` (an error's stack follows on indented lines); anything else
 * (a non-JSON line, pretty off) is returned as it came.
 */
export function formatLogLine(line: string, f: LineFormat): string {
  if (!f.pretty || !line.startsWith('{')) return line;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (rec === null || typeof rec !== 'object' || typeof rec.level !== 'number') return line;
  const [label, code] = LEVELS[rec.level] ?? [`L${rec.level}`, 0];
  const time = typeof rec.time === 'number' ? clock(rec.time) : '';
  const fields = Object.entries(rec)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${paint(f.color, 90, `${k}=`)}${fieldValue(v)}`);
  const head = [
    paint(f.color, 90, time),
    paint(f.color, code, label.padEnd(5)),
    typeof rec.msg === 'string' ? rec.msg : '',
    ...fields,
  ]
    .filter((s) => s !== '')
    .join(' ');
  const err = (rec.err ?? rec.error) as { stack?: unknown } | undefined;
  const stack =
    rec.level >= 50 && typeof err?.stack === 'string'
      ? err.stack
          .split('\n')
          .slice(1)
          .map((l) => `    ${l.trim()}`)
      : [];
  return [head, ...stack].join('\n');
}
