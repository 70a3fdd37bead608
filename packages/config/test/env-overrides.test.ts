import { describe, expect, it } from 'vitest';
import { parse, problems, yaml } from './helpers.js';

const base = yaml('messaging_system:', '  network:', '    port: 7400');

describe('environment overrides FLEET_<SECTION>__<FIELD>', () => {
  it('override numbers, nested fields and strings, typed through the schema', () => {
    const cfg = parse(base, {
      FLEET_NETWORK__PORT: '0',
      FLEET_THREAD_POOLS__WORK__WORKERS: '4',
      FLEET_REDIS__KEY_PREFIX: '123', // a string field keeps the text as is
      FLEET_THREAD_POOLS__WORK__LOCKFREE: 'true',
      FLEET_MONITORING__TOPIC_LABELS: '[order.#, user.created]',
      FLEET_LOGGING__LEVEL: 'debug',
    });
    expect(cfg.network.port).toBe(0);
    expect(cfg.thread_pools.work.workers).toBe(4);
    expect(cfg.redis.key_prefix).toBe('123');
    expect(cfg.thread_pools.work.lockfree).toBe(true);
    expect(cfg.monitoring.topic_labels).toEqual(['order.#', 'user.created']);
    expect(cfg.logging.level).toBe('debug');
  });

  it('objects can be set whole or field by field', () => {
    expect(parse(base, { FLEET_OPS__BASIC_AUTH: '{username: ops, password: pw}' }).ops.basic_auth).toEqual({
      username: 'ops',
      password: 'pw',
    });
    expect(
      parse(base, { FLEET_OPS__BASIC_AUTH__USERNAME: 'ops', FLEET_OPS__BASIC_AUTH__PASSWORD: 'pw' }).ops
        .basic_auth,
    ).toEqual({ username: 'ops', password: 'pw' });
  });

  it('aliases FLEET_DATABASE_URL and FLEET_REDIS_URL; the __ form wins', () => {
    const cfg = parse(base, {
      FLEET_DATABASE_URL: 'postgres://u:pw@db/x',
      FLEET_REDIS_URL: 'redis://r:6380',
    });
    expect(cfg.database.connection_string).toBe('postgres://u:pw@db/x');
    expect(cfg.redis.url).toBe('redis://r:6380');
    const both = parse(base, { FLEET_REDIS_URL: 'redis://a', FLEET_REDIS__URL: 'redis://b' });
    expect(both.redis.url).toBe('redis://b');
  });

  it('a bad value names the variable instead of a file position', () => {
    expect(problems(base, { FLEET_NETWORK__PORT: 'abc' })).toEqual([
      'env FLEET_NETWORK__PORT messaging_system.network.port: expected an integer 0-65535, got "abc"',
    ]);
  });

  it('an unknown variable is an error with a suggestion; FLEET_ vars without __ are ignored', () => {
    expect(problems(base, { FLEET_NETWRK__PORT: '1', FLEET_SOMETHING_ELSE: 'x' })).toEqual([
      'env FLEET_NETWRK__PORT: unknown key messaging_system.netwrk.port; did you mean FLEET_NETWORK__PORT?',
    ]);
  });

  it('secret values from the environment never appear in errors', () => {
    const lines = problems(base, { FLEET_AUTH__TOKENS: '[sekrit]', FLEET_DATABASE_URL: '' });
    expect(lines).toEqual([
      'env FLEET_DATABASE_URL messaging_system.database.connection_string: expected a non-empty string, got a value (hidden: secret)',
      'env FLEET_AUTH__TOKENS messaging_system.auth.tokens[0]: expected a string of at least 16 characters, got a value (hidden: secret)',
    ]);
    expect(lines.join()).not.toContain('sekrit');
  });

  it('overrides apply over a file that lacks the section', () => {
    expect(parse(yaml('messaging_system:'), { FLEET_STREAMS__SHARDS: '4' }).streams.shards).toBe(4);
  });
});
