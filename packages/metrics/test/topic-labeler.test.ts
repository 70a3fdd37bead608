import { describe, expect, it } from 'vitest';
import { OTHER_LABEL, TopicLabeler } from '../src/index.js';

describe('TopicLabeler', () => {
  it('keeps listed topics and prefixes, cuts others to N segments, caps distinct values', () => {
    const l = new TopicLabeler({ topicLabels: ['payment.settled', 'order.#'], segments: 2, maxLabels: 2 });
    expect(l.label('payment.settled')).toBe('payment.settled');
    expect(l.label('order')).toBe('order.#');
    expect(l.label('order.created.eu')).toBe('order.#');
    expect(l.label('orders.x')).toBe('orders.x');
    expect(l.label('user.signup.web')).toBe('user.signup');
    expect(l.label('user.signup.app')).toBe('user.signup');
    expect(l.label('inventory')).toBe(OTHER_LABEL); // third derived label: over the cap
    expect(l.label('orders.x.y')).toBe('orders.x'); // known labels keep working
    expect(l.derivedCount).toBe(2);
  });

  it('segments 0 sends every unlisted topic to other', () => {
    const l = new TopicLabeler({ topicLabels: ['a.b'], segments: 0, maxLabels: 100 });
    expect(l.label('a.b')).toBe('a.b');
    expect(l.label('a.c')).toBe(OTHER_LABEL);
  });

  it('configure() applies new options', () => {
    const l = new TopicLabeler({ topicLabels: [], segments: 1, maxLabels: 10 });
    expect(l.label('a.b.c')).toBe('a');
    l.configure({ topicLabels: ['a.b.c'], segments: 1, maxLabels: 10 });
    expect(l.label('a.b.c')).toBe('a.b.c');
  });

  it('stays bounded and consistent under a flood of distinct topics', () => {
    const l = new TopicLabeler({ topicLabels: [], segments: 1, maxLabels: 50 });
    const labels = new Set<string>();
    for (let i = 0; i < 100_000; i++) labels.add(l.label(`t${i}.x`));
    expect(labels.size).toBe(51);
    expect(l.label('t3.x')).toBe('t3');
    expect(l.label('t99999.x')).toBe(OTHER_LABEL);
  });
});
