import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OTHER_LABEL, TopicLabeler } from '../src/index.js';

const segment = fc.stringMatching(/^[a-z0-9_-]{1,6}$/);
const topic = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join('.'));

describe('TopicLabeler (property)', () => {
  it('labels are listed topics, listed prefixes, leading segments of the topic, or other; bounded', () => {
    fc.assert(
      fc.property(
        fc.array(topic, { maxLength: 4 }),
        fc.array(topic, { maxLength: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 10 }),
        fc.array(topic, { minLength: 1, maxLength: 200 }),
        (listed, prefixes, segments, maxLabels, topics) => {
          const l = new TopicLabeler({
            topicLabels: [...listed, ...prefixes.map((p) => `${p}.#`)],
            segments,
            maxLabels,
          });
          const derived = new Set<string>();
          for (const t of topics) {
            const label = l.label(t);
            expect(l.label(t)).toBe(label); // stable
            if (label === OTHER_LABEL || listed.includes(label)) continue;
            if (label.endsWith('.#')) {
              const p = label.slice(0, -2);
              expect(t === p || t.startsWith(`${p}.`)).toBe(true);
              continue;
            }
            expect(t === label || t.startsWith(`${label}.`)).toBe(true);
            expect(label.split('.').length).toBeLessThanOrEqual(segments);
            derived.add(label);
          }
          expect(derived.size).toBeLessThanOrEqual(maxLabels);
        },
      ),
    );
  });
});
