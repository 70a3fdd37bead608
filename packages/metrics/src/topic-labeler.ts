export interface TopicLabelerOptions {
  /** Topics kept as labels verbatim, or prefixes `order.#` (label `order.#`). */
  topicLabels: readonly string[];
  /** Other topics are labelled by their first N segments (0 = all of them are `other`). */
  segments: number;
  /** Distinct derived labels before everything new becomes `other`. */
  maxLabels: number;
}

export const OTHER_LABEL = 'other';
const CACHE_LIMIT = 10_000;

/**
 * Maps topics to metric label values with bounded cardinality: configured topics and prefixes
 * are kept, other topics are cut to their first N segments, at most maxLabels such values, then
 * `other`. Results are cached (the cache is bounded too: a flood of topics only resets it).
 */
export class TopicLabeler {
  private exact = new Set<string>();
  private prefixes: string[] = [];
  private segments = 1;
  private maxLabels = 100;
  private readonly derived = new Set<string>();
  private readonly cache = new Map<string, string>();

  constructor(opts: TopicLabelerOptions) {
    this.configure(opts);
  }

  /** Applies changed options (monitoring.* is live-reloadable); already-exported series remain. */
  configure(opts: TopicLabelerOptions): void {
    this.exact = new Set(opts.topicLabels.filter((t) => !t.endsWith('.#') && t !== '#'));
    this.prefixes = opts.topicLabels.filter((t) => t.endsWith('.#')).map((t) => t.slice(0, -2));
    this.segments = Math.max(0, Math.floor(opts.segments));
    this.maxLabels = Math.max(1, Math.floor(opts.maxLabels));
    this.derived.clear();
    this.cache.clear();
  }

  label(topic: string): string {
    const hit = this.cache.get(topic);
    if (hit !== undefined) return hit;
    const label = this.compute(topic);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(topic, label);
    return label;
  }

  /** Distinct labels derived from segments so far (listed topics and `other` not counted). */
  get derivedCount(): number {
    return this.derived.size;
  }

  private compute(topic: string): string {
    if (this.exact.has(topic)) return topic;
    for (const p of this.prefixes) {
      // AMQP `#` matches zero or more segments: `order.#` covers `order` and `order.a.b`.
      if (topic === p || (topic.startsWith(p) && topic.charCodeAt(p.length) === 46)) return `${p}.#`;
    }
    if (this.segments === 0) return OTHER_LABEL;
    let end = -1;
    for (let i = 0; i < this.segments; i++) {
      end = topic.indexOf('.', end + 1);
      if (end === -1) break;
    }
    const cut = end === -1 ? topic : topic.slice(0, end);
    if (this.derived.has(cut)) return cut;
    if (this.derived.size >= this.maxLabels) return OTHER_LABEL;
    this.derived.add(cut);
    return cut;
  }
}
