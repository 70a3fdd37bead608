import { describe, expect, it } from 'vitest';
import { defaultConfig, redactConfig, redactUrl } from '../src/index.js';
import { parse, yaml } from './helpers.js';

describe('redaction of secrets', () => {
  it('redactUrl hides passwords, redis tokens and secret-looking query parameters', () => {
    expect(redactUrl('postgres://u:pw@h:5432/db?sslpassword=x&a=1')).toBe(
      'postgres://u:***@h:5432/db?sslpassword=***&a=1',
    );
    expect(redactUrl('redis://:tok@h:6379')).toBe('redis://:***@h:6379');
    expect(redactUrl('rediss://tok@h:6380/0')).toBe('rediss://***@h:6380/0');
    expect(redactUrl('postgres://postgres@127.0.0.1:5432/fleet')).toBe(
      'postgres://postgres@127.0.0.1:5432/fleet',
    );
    expect(redactUrl('host=x //a:b@c')).toBe('host=x //a:***@c');
  });

  it('redactConfig masks every secret field and leaves the rest', () => {
    const cfg = parse(
      yaml(
        'messaging_system:',
        '  auth: {tokens: [aaaaaaaaaaaaaaaaaaaa]}',
        '  ops: {basic_auth: {username: u, password: p}}',
        '  database: {connection_string: "postgres://u:pw@h/db"}',
      ),
    );
    const r = redactConfig(cfg);
    expect(r.auth.tokens).toEqual(['***']);
    expect(r.ops.basic_auth as unknown).toBe('***');
    expect(r.database.connection_string).toBe('***');
    expect(r.redis.url).toBe('***');
    expect(r.network).toEqual(cfg.network);
    expect(JSON.stringify(r)).not.toMatch(/pw|aaaaaaaa/);
    expect(redactConfig(defaultConfig()).ops.basic_auth).toBeUndefined();
  });
});
