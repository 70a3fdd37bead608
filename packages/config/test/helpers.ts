import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { ConfigError, ConfigWatcher, type FleetConfig, parseConfig } from '../src/index.js';

/** The problem lines of parsing `text` as file `f.yaml` with an empty environment (fails if it parses). */
export function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, { file: 'f.yaml', env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

export function parse(text: string, env: NodeJS.ProcessEnv = {}): FleetConfig {
  return parseConfig(text, { file: 'f.yaml', env });
}

/** A temp dir removed by the returned cleanup. */
export function tempDir(): {
  dir: string;
  file: (name: string, text?: string) => string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-config-'));
  return {
    dir,
    file: (name, text) => {
      const p = join(dir, name);
      if (text !== undefined) writeFileSync(p, text);
      return p;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A temp dir for the running test, removed when the test finishes. */
export function testTempDir(): ReturnType<typeof tempDir> {
  const t = tempDir();
  onTestFinished(t.cleanup);
  return t;
}

/** A ConfigWatcher on `file` for the running test, stopped when the test finishes. */
export function testWatcher(
  file: string,
  opts: ConstructorParameters<typeof ConfigWatcher>[1],
): ConfigWatcher {
  const w = new ConfigWatcher(file, opts);
  onTestFinished(() => w.stop());
  return w;
}

/** Lines of a YAML document, joined (keeps tests readable). */
export const yaml = (...lines: string[]) => lines.join('\n') + '\n';

/** Polls `predicate` until true (fails after `timeoutMs`). */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger that records lines by level. */
export function recordingLogger() {
  const lines = { info: [] as string[], warn: [] as string[], error: [] as string[] };
  return {
    lines,
    logger: {
      info: (m: string) => lines.info.push(m),
      warn: (m: string) => lines.warn.push(m),
      error: (m: string) => lines.error.push(m),
    },
  };
}

/** A config file text with the given logging level and gateway port (one live, one restart field). */
export const levelAndPort = (level: string, port = 7400) =>
  yaml('messaging_system:', '  network:', `    port: ${port}`, '  logging:', `    level: ${level}`);
