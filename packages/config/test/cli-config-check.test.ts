import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, yaml } from './helpers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = fileURLToPath(new URL('../../client/bin/fleet.js', import.meta.url));
const t = tempDir();
afterAll(() => t.cleanup());

async function fleet(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLEET_')));
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: root, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('fleet config check FILE', () => {
  it('prints exactly "ok" and exits 0 for the shipped example', async () => {
    expect(await fleet('config', 'check', 'config/fleet.yaml')).toEqual({
      code: 0,
      stdout: 'ok\n',
      stderr: '',
    });
  });

  it('prints one line per problem and exits 1, without a stack trace', async () => {
    const file = t.file('bad.yaml', yaml('messaging_system:', '  network:', '    port: 80a', '    prot: 1'));
    expect(await fleet('config', 'check', file)).toEqual({
      code: 1,
      stdout: '',
      stderr:
        `${file}:3:11 messaging_system.network.port: expected an integer 0-65535, got "80a"\n` +
        `${file}:4:5 messaging_system.network.prot: unknown key; did you mean "port"?\n`,
    });
    expect(await fleet('config', 'check', 'nope.yaml')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'nope.yaml: file does not exist\n',
    });
  });

  it('help, unknown command and bad usage', async () => {
    const [help, configHelp, unknown, noFile] = await Promise.all([
      fleet('--help'),
      fleet('config', '--help'),
      fleet('frobnicate'),
      fleet('config', 'check'),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('config');
    expect(configHelp.stdout).toContain('fleet config check FILE');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(noFile.code).toBe(2);
  });
});
