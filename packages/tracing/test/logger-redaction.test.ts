import { join } from 'node:path';
import { redactUrl } from '@fleet/config';
import { afterAll, describe, expect, it } from 'vitest';
import { closeLogger, createLogger } from '../src/index.js';
import { readLines, tempDir } from './helpers.js';

const tmp = tempDir('redact');
afterAll(() => tmp.cleanup());

describe('logger redaction', () => {
  it('hides secrets by key and passwords inside URLs, messages and error stacks', async () => {
    const path = join(tmp.dir, 'app.log');
    const logger = createLogger({ name: 'gateway', writers: [{ type: 'file', path }] });
    logger.info(
      {
        password: 'hunter2',
        token: 'tok-123',
        headers: { authorization: 'Bearer abc' },
        redis: { url: 'redis://default:s3cret@redis:6379/0', password: 'p' },
        database_url: 'postgres://fleet:pgpass@db:5432/fleet',
        connection_string: 'host=db user=fleet password=kv-secret dbname=fleet',
        user: 'alice',
      },
      'connected',
    );
    logger.error({ err: new Error('connect failed to postgres://fleet:errpass@db:5432/fleet') }, 'failed');
    await closeLogger(logger);

    const text = JSON.stringify(readLines(path));
    for (const secret of ['hunter2', 'tok-123', 'Bearer abc', 's3cret', 'pgpass', 'kv-secret', 'errpass']) {
      expect(text).not.toContain(secret);
    }
    const [line, errLine] = readLines(path);
    expect(line).toMatchObject({
      password: '[Redacted]',
      token: '[Redacted]',
      headers: { authorization: '[Redacted]' },
      redis: { url: 'redis://default:***@redis:6379/0', password: '[Redacted]' },
      database_url: 'postgres://fleet:***@db:5432/fleet',
      user: 'alice',
    });
    expect(errLine).toMatchObject({
      err: { message: 'connect failed to postgres://fleet:***@db:5432/fleet' },
    });
  });

  it('redactUrl leaves URLs without credentials alone', () => {
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactUrl('rediss://:pw@host:6380')).toBe('rediss://:***@host:6380');
    expect(redactUrl('user@example.com')).toBe('user@example.com');
  });
});
