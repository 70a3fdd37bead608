/**
 * A strict parser of the Prometheus text exposition format (0.0.4), used by tests to check that
 * /metrics output is valid: names, label syntax and escapes, one TYPE/HELP per family before its
 * samples, contiguous families, no duplicate series, well-formed histograms.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class TextFormatError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'TextFormatError';
  }
}

function parseValue(s: string, line: number): number {
  // Prometheus reads values with Go's ParseFloat: Inf/NaN spellings are case-insensitive
  // (prom-client writes `Nan` for empty event-loop stats).
  const lower = s.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  if (lower === 'nan') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new TextFormatError(line, `bad value ${s}`);
  return Number(s);
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** Which family a sample name belongs to, given the families declared so far. */
function familyOf(name: string, families: Map<string, MetricFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count', '_created']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const f = families.get(base);
      if (f && (f.type === 'histogram' || f.type === 'summary')) return base;
    }
  }
  return name;
}

function parseLabels(
  text: string,
  start: number,
  line: number,
): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start;
  for (;;) {
    while (text[i] === ' ') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const eq = text.indexOf('=', i);
    if (eq === -1) throw new TextFormatError(line, 'label without =');
    const name = text.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) throw new TextFormatError(line, `bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new TextFormatError(line, `duplicate label ${name}`);
    i = eq + 1;
    if (text[i] !== '"') throw new TextFormatError(line, `label ${name} value not quoted`);
    i++;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new TextFormatError(line, 'unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const n = text[i + 1];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else throw new TextFormatError(line, `bad escape \\${n ?? ''}`);
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    labels[name] = value;
    i++;
    while (text[i] === ' ') i++;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new TextFormatError(line, 'expected , or } after label');
  }
}

function checkHistogram(f: MetricFamily): void {
  // Group buckets by their labels without le.
  const groups = new Map<string, { les: number[]; counts: number[]; count?: number }>();
  const keyOf = (labels: Record<string, string>) =>
    JSON.stringify(
      Object.entries(labels)
        .filter(([k]) => k !== 'le')
        .sort(),
    );
  for (const s of f.samples) {
    const key = keyOf(s.labels);
    let g = groups.get(key);
    if (!g) {
      g = { les: [], counts: [] };
      groups.set(key, g);
    }
    if (s.name === `${f.name}_bucket`) {
      if (s.labels.le === undefined) throw new TextFormatError(0, `${f.name}_bucket without le`);
      g.les.push(parseValue(s.labels.le, 0));
      g.counts.push(s.value);
    } else if (s.name === `${f.name}_count`) g.count = s.value;
  }
  for (const g of groups.values()) {
    if (g.les.length === 0) throw new TextFormatError(0, `${f.name} has a series without buckets`);
    for (let i = 1; i < g.les.length; i++) {
      if (!(g.les[i]! > g.les[i - 1]!)) throw new TextFormatError(0, `${f.name} buckets not increasing`);
      if (g.counts[i]! < g.counts[i - 1]!) throw new TextFormatError(0, `${f.name} bucket counts decrease`);
    }
    if (g.les[g.les.length - 1] !== Number.POSITIVE_INFINITY)
      throw new TextFormatError(0, `${f.name} lacks le="+Inf"`);
    if (g.count !== undefined && g.count !== g.counts[g.counts.length - 1])
      throw new TextFormatError(0, `${f.name}_count differs from the +Inf bucket`);
  }
}

/** Parses exposition text into families keyed by name; throws TextFormatError on any violation. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const closed = new Set<string>();
  const seriesSeen = new Set<string>();
  let current: string | undefined;
  const lines = text.split('\n');
  if (text.length > 0 && !text.endsWith('\n'))
    throw new TextFormatError(lines.length, 'text must end with a newline');

  const open = (name: string, line: number): MetricFamily => {
    if (current !== name) {
      if (closed.has(name)) throw new TextFormatError(line, `family ${name} is not contiguous`);
      if (current !== undefined) closed.add(current);
      current = name;
    }
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', samples: [] };
      families.set(name, f);
    }
    return f;
  };

  lines.forEach((raw, idx) => {
    const line = idx + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(raw);
      if (!m) return; // plain comment
      const [, kind, name, rest = ''] = m as unknown as [string, string, string, string | undefined];
      if (!METRIC_NAME.test(name)) throw new TextFormatError(line, `bad metric name ${name}`);
      const f = open(name, line);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new TextFormatError(line, `second HELP for ${name}`);
        f.help = unescapeHelp(rest);
      } else {
        const type = rest.trim() as MetricType;
        if (!TYPES.has(type)) throw new TextFormatError(line, `bad type ${rest}`);
        if (f.samples.length > 0) throw new TextFormatError(line, `TYPE for ${name} after its samples`);
        if (f.type !== 'untyped' || (f as { typed?: boolean }).typed)
          throw new TextFormatError(line, `second TYPE for ${name}`);
        f.type = type;
        (f as { typed?: boolean }).typed = true;
      }
      return;
    }
    const nameEnd = raw.search(/[{ ]/);
    if (nameEnd <= 0) throw new TextFormatError(line, 'sample without value');
    const name = raw.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new TextFormatError(line, `bad metric name ${name}`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (raw[i] === '{') {
      const parsed = parseLabels(raw, i + 1, line);
      labels = parsed.labels;
      i = parsed.end;
    }
    const parts = raw.slice(i).trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2 || parts[0] === '')
      throw new TextFormatError(line, 'bad sample');
    const value = parseValue(parts[0]!, line);
    const sample: Sample = { name, labels, value };
    if (parts[1] !== undefined) {
      if (!/^-?\d+$/.test(parts[1])) throw new TextFormatError(line, `bad timestamp ${parts[1]}`);
      sample.timestamp = Number(parts[1]);
    }
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (seriesSeen.has(key))
      throw new TextFormatError(line, `duplicate series ${name}${JSON.stringify(labels)}`);
    seriesSeen.add(key);
    const f = open(familyOf(name, families), line);
    if (f.type === 'counter' && !(value >= 0))
      throw new TextFormatError(line, `counter ${name} is negative or NaN`);
    f.samples.push(sample);
  });
  for (const f of families.values()) {
    delete (f as { typed?: boolean }).typed;
    if (f.type === 'histogram') checkHistogram(f);
  }
  return families;
}
