import { connect, FleetError } from '@fleet/client';
import { ErrorCode, FleetKeys } from '@fleet/protocol';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ingestMessages } from '../../../test/helpers/ingest.js';
import { gatewayConfig, redisUrl, useGateway } from './helpers.js';

// The shipped TypeScript client (@fleet/client) against the real gateway.
describe('@fleet/client interop', () => {
  const token = 'interop-token-0123456789';
  const cfg = gatewayConfig({ auth: { tokens: [token] } });
  const gw = useGateway(cfg);

  it('publishes, pipelines and gets typed errors', async () => {
    const client = await connect({ host: '127.0.0.1', port: gw.port, token, reconnect: false });
    const one = await client.publish('orders.created', { n: 1 });
    expect(one.streamId).toMatch(/^\d+-\d+$/);
    const many = await client.publishMany(
      Array.from({ length: 1_000 }, (_, i) => ({ topic: 'orders.updated', payload: `m${i}` })),
    );
    expect(new Set(many.map((r) => r.id)).size).toBe(1_000);
    const redis = new Redis(redisUrl());
    expect(await ingestMessages(redis, new FleetKeys(cfg.redis.key_prefix, 1).ingestStream(0))).toHaveLength(
      1_001,
    );
    redis.disconnect();
    const err = await client.publish('orders.*', 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetError);
    expect((err as FleetError).code).toBe(ErrorCode.INVALID_TOPIC);
    const timeout = await client.request('orders.lookup', 'q', { timeoutMs: 200 }).catch((e: unknown) => e);
    expect((timeout as FleetError).code).toBe(ErrorCode.TIMEOUT);
    await client.close();
  });

  it('surfaces a wrong token as AUTH_FAILED', async () => {
    const err = await connect({
      host: '127.0.0.1',
      port: gw.port,
      token: 'wrong-token-0123456789',
      reconnect: false,
    }).catch((e: unknown) => e);
    expect((err as FleetError).code).toBe(ErrorCode.AUTH_FAILED);
  });
});
