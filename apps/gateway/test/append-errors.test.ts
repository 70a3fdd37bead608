import { ErrorCode } from '@fleet/protocol';
import { describe, expect, it } from 'vitest';
import { appendErrorCause, appendErrorCode } from '../src/append-errors.js';

// The texts are ioredis 6.1's and Redis's own (see apps/gateway/README.md, "Append errors").
describe('append error mapping', () => {
  it.each([
    ['OOM command not allowed when used memory > maxmemory.', 'oom', ErrorCode.OVERLOADED],
    ['CLUSTERDOWN The cluster is down', 'clusterdown', ErrorCode.UNAVAILABLE],
    ['TRYAGAIN Multiple keys request during rehashing of slot', 'tryagain', ErrorCode.UNAVAILABLE],
    [
      'Too many Cluster redirections. Last error: Error: Connection is closed.',
      'redirections',
      ErrorCode.UNAVAILABLE,
    ],
    ['Connection is closed.', 'connection', ErrorCode.UNAVAILABLE],
    ['redis not connected', 'connection', ErrorCode.UNAVAILABLE],
    [
      'Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.',
      'connection',
      ErrorCode.UNAVAILABLE,
    ],
    ["Cluster isn't ready and enableOfflineQueue options is false", 'connection', ErrorCode.UNAVAILABLE],
    ['Command timed out', 'timeout', ErrorCode.UNAVAILABLE],
    ['ERR something else', 'other', ErrorCode.UNAVAILABLE],
  ])('%s -> %s', (message, cause, code) => {
    expect(appendErrorCause(message)).toBe(cause);
    expect(appendErrorCode(message)).toBe(code);
  });
});
