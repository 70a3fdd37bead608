import { describe, expect, it } from 'vitest';
import { decodeJobData, encodeJobData, encodeJobMessage, JOB_DATA_VERSION } from '../src/job.js';

describe('job payload codec', () => {
  it('round-trips what the persister encodes through JSON (as BullMQ stores it)', () => {
    const envelope = Buffer.from([1, 2, 3, 250]);
    const plain = encodeJobMessage({ id: 'a', envelope }, 0);
    const request = encodeJobMessage({ id: 'b', envelope, traceparent: 'tp', replyTo: 'gw-1|c' }, 3);
    expect(plain).toEqual({ id: 'a', e: envelope.toString('base64'), n: 0 });
    expect(request).toEqual({ id: 'b', e: envelope.toString('base64'), n: 3, t: 'tp', r: 'gw-1|c' });
    const data = JSON.parse(JSON.stringify(encodeJobData([plain, request])));
    expect(data.v).toBe(JOB_DATA_VERSION);
    expect(decodeJobData(data)).toEqual([plain, request]);
  });

  it('refuses payloads of another shape or version and drops entries without id or envelope', () => {
    for (const bad of [null, 'x', 1, {}, { v: 2, messages: [] }, { v: 1, messages: 'x' }])
      expect(decodeJobData(bad)).toBeNull();
    const ok = { id: 'a', e: 'AQ==', n: 0 };
    expect(decodeJobData({ v: 1, messages: [ok, null, { id: 1, e: 'x' }, { id: 'b' }] })).toEqual([ok]);
  });
});
