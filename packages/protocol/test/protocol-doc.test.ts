import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../src/envelope.js';
import { closesConnection, closesWhenCorrZero, ErrorCode } from '../src/errors.js';
import { encodeFrame, type Frame, FrameDecoder, FrameType } from '../src/frames.js';

/** docs/protocol.md must stay true: its hex examples decode to its JSON, its tables match the code. */
const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');

interface Example {
  hex: Buffer;
  expected: unknown;
  line: number;
}

function examples(): Example[] {
  const out: Example[] = [];
  const re = /```hex\n([\s\S]*?)```\s*```json\n([\s\S]*?)```/g;
  for (let m = re.exec(doc); m; m = re.exec(doc)) {
    const hex = m[1]!
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').replace(/\s+/g, ''))
      .join('');
    expect(hex, 'hex block holds only hex digits').toMatch(/^([0-9a-f]{2})+$/);
    out.push({
      hex: Buffer.from(hex, 'hex'),
      expected: JSON.parse(m[2]!),
      line: doc.slice(0, m.index).split('\n').length,
    });
  }
  return out;
}

/** The decoded frame as the doc shows it: envelopes decoded, payloads as text. */
function shown(f: Frame): unknown {
  const o: Record<string, unknown> = { ...f };
  if (f.type === FrameType.PUBLISH || f.type === FrameType.REQUEST) {
    const env = decodeEnvelope(f.envelope) as unknown as Record<string, unknown>;
    o.envelope = { ...env, payload: Buffer.from(env.payload as Uint8Array).toString('utf8') };
  }
  if (f.type === FrameType.RESPONSE) o.payload = f.payload.toString('utf8');
  return o;
}

describe('docs/protocol.md', () => {
  const list = examples();

  it('has worked examples of HELLO, WELCOME, PUBLISH, ACK, ERROR and PING', () => {
    const types = list.map((e) => (e.expected as { type: number }).type);
    for (const t of [
      FrameType.HELLO,
      FrameType.WELCOME,
      FrameType.PUBLISH,
      FrameType.ACK,
      FrameType.ERROR,
      FrameType.PING,
    ])
      expect(types).toContain(t);
  });

  it.each(list.map((e) => [e.line, e] as const))(
    'example at line %i decodes to the documented fields',
    (_line, e) => {
      const frames = new FrameDecoder({ maxFrameBytes: 1 << 20 }).push(e.hex);
      expect(frames).toHaveLength(1);
      const f = frames[0]!;
      expect(f.type, 'a valid frame, not an invalid item').not.toBe(0);
      expect(shown(f as Frame)).toEqual(e.expected);
      // The documented bytes are exactly what the encoder produces.
      expect(encodeFrame(f as Frame).toString('hex')).toBe(e.hex.toString('hex'));
    },
  );

  it('lists every error code with its number and whether it closes the connection', () => {
    for (const [name, code] of Object.entries(ErrorCode)) {
      const row = new RegExp(`^\\|\\s*${code}\\s*\\|\\s*${name}\\s*\\|\\s*(yes|no|corr 0)\\s*\\|`, 'm').exec(
        doc,
      );
      expect(row, `row for ${name}`).not.toBeNull();
      expect(row![1] === 'yes', `closes column of ${name}`).toBe(closesConnection(code));
      expect(row![1] === 'corr 0', `closes column of ${name}`).toBe(closesWhenCorrZero(code));
    }
  });

  it('lists every frame type with its number', () => {
    for (const [name, type] of Object.entries(FrameType)) {
      expect(doc).toMatch(new RegExp(`^\\|\\s*${type}\\s*\\|\\s*${name}\\s*\\|`, 'm'));
    }
  });
});
