import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { TS_HOOK } from '../../../test/helpers/processes.js';
import { readLines, tempDir } from './helpers.js';

const tmp = tempDir('exit');
afterAll(() => tmp.cleanup());

describe('async logger and process exit', () => {
  it('buffered lines reach the file when the process exits without closeLogger', () => {
    const path = join(tmp.dir, 'exit.log');
    const script = fileURLToPath(new URL('./fixtures/exit-without-close.ts', import.meta.url));
    execFileSync(process.execPath, ['--import', TS_HOOK, script, path], { stdio: 'pipe', timeout: 20_000 });
    const lines = readLines(path);
    // All lines are there; a chunk whose async write was in flight at exit may land after the rest.
    expect(lines.map((l) => l.i as number).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
  });
});
