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

  it('one rule set for URLs, connection strings and error texts (config, logger, persister errors)', () => {
    expect(redactUrl('connect failed to postgres://fleet:errpass@db:5432/fleet')).toBe(
      'connect failed to postgres://fleet:***@db:5432/fleet',
    );
    expect(redactUrl('redis://default:p@ss@h:6379 and https://tok@x/y')).toBe(
      'redis://default:***@h:6379 and https://***@x/y',
    );
    expect(redactUrl('host=db user=fleet password=kv-secret sslpassword=s dbname=fleet')).toBe(
      'host=db user=fleet password=*** sslpassword=*** dbname=fleet',
    );
    expect(redactUrl('https://h/p?access_token=abc&x=1')).toBe('https://h/p?access_token=***&x=1');
    for (const same of ['redis://127.0.0.1:6379', 'user@example.com', 'a=1 b=2', 'plain text'])
      expect(redactUrl(same)).toBe(same);
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
