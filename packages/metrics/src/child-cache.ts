/**
 * Caches prom-client label children so the hot path does one Map lookup instead of building a
 * labels object per update. Label values must be bounded (use TopicLabeler for topics).
 */
export function cachedLabels<C>(metric: { labels(...values: string[]): C }): (...values: string[]) => C {
  const children = new Map<string, C>();
  return (...values: string[]): C => {
    const key = values.length === 1 ? values[0]! : values.join('\u0000');
    let child = children.get(key);
    if (child === undefined) {
      child = metric.labels(...values);
      children.set(key, child);
    }
    return child;
  };
}
