import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First `name` on PATH (the PATH of `env`, so tests can simulate a machine without it). */
export function which(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

/**
 * Directory holding initdb + pg_ctl: PATH first, then Debian's /usr/lib/postgresql/<version>/bin (kept off
 * PATH by the postgresql packages), newest version first.
 */
export function findPostgresBin(
  env: NodeJS.ProcessEnv = process.env,
  debianRoot = '/usr/lib/postgresql',
): string | undefined {
  const initdb = which('initdb', env);
  if (initdb && which('pg_ctl', env)) return join(initdb, '..');
  let versions: string[] = [];
  try {
    versions = readdirSync(debianRoot);
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(debianRoot, version, 'bin');
    if (isExecutable(join(bin, 'initdb')) && isExecutable(join(bin, 'pg_ctl'))) return bin;
  }
  return undefined;
}
