import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { loadConfigFile } from '@fleet/config';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTestConfig } from '../helpers/config.js';
import { killAllApps, REPO_ROOT, spawnScript } from '../helpers/processes.js';
import { databaseUrl, redisUrl, runId } from '../helpers/services.js';

describe('writeTestConfig', () => {
  it('writes a valid config with test defaults, deep-merged with overrides', async () => {
    const { path } = await writeTestConfig({ network: { max_in_flight: 7 }, queue: { batch_size: 1 } });
    const config = loadConfigFile(path, {});
    expect(config.network).toMatchObject({ port: 0, host: '127.0.0.1', max_in_flight: 7 });
    expect(config.queue.batch_size).toBe(1);
    expect(config.redis.url).toBe(redisUrl());
    expect(config.redis.key_prefix.startsWith(`fleet-test-${runId()}-app-`)).toBe(true);
    expect(config.database.connection_string).toBe(databaseUrl());
    expect([config.ops.port, config.ops.gateway_metrics_port, config.ops.worker_metrics_port]).toEqual([
      0, 0, 0,
    ]);
  });
});

describe('spawnScript (what spawnApp runs for apps/<app>/src/main.ts)', () => {
  afterAll(() => killAllApps());

  it('captures lines, waits for the ready line, and reports the exit code', async () => {
    const { dir } = await writeTestConfig();
    const script = join(dir, 'fake-app.ts');
    await writeFile(
      script,
      [
        "const seen: string = process.env.FLEET_REDIS_URL ?? 'unset';",
        "console.error('booting');",
        'setTimeout(() => console.log(JSON.stringify({ level: 30, msg: "ready", redis: seen, arg: process.argv[3] })), 50);',
        "process.on('SIGTERM', () => { console.log('bye'); process.exit(3); });",
        'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    const app = spawnScript('fake', relative(REPO_ROOT, script), ['--config', 'x.yaml']);
    const ready = await app.waitReady(20_000);
    // The run's FLEET_REDIS_URL must not leak into a child: it would override the config file under test.
    expect(JSON.parse(ready)).toMatchObject({ msg: 'ready', redis: 'unset', arg: 'x.yaml' });
    expect(await app.waitForLine('booting')).toBe('booting');
    expect(app.lines).toContain('[fake err] booting');
    expect(await app.stop()).toBe(3);
    await expect(app.waitForLine('never printed', 1000)).rejects.toThrow(/fake exited \(code 3\)/);
  });
});
