import { describe, expect, it } from 'vitest';
import { parseRedisUrl, redact } from '../src/index.js';

describe('parseRedisUrl', () => {
  it('reads host, port, credentials, TLS and db', () => {
    expect(parseRedisUrl('rediss://u:p%40ss@redis.example:6380/2')).toEqual({
      host: 'redis.example',
      port: 6380,
      username: 'u',
      password: 'p@ss',
      tls: true,
      db: 2,
    });
    expect(parseRedisUrl('redis://127.0.0.1')).toEqual({ host: '127.0.0.1', port: 6379, tls: false, db: 0 });
  });

  it('rejects other schemes and never echoes a password', () => {
    expect(() => parseRedisUrl('http://x:1')).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => parseRedisUrl('redis//:secret@x')).toThrow(/not a URL/);
    expect(redact('redis://user:secret@h:1')).toBe('redis://user:***@h:1');
  });
});
