import pg from 'pg';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Database names are identifiers, not parameters: accept only lower-case [a-z0-9_] and quote them. */
function quoteDatabaseName(name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new Error(
      `invalid database name "${name}": use 1-63 characters of a-z, 0-9 and _, not starting with a digit`,
    );
  }
  return `"${name}"`;
}

/** The same server URL pointing at another database. */
export function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Creates database `name` on the server of `serverUrl`; returns its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const quoted = quoteDatabaseName(name);
  await onServer(serverUrl, (client) => client.query(`CREATE DATABASE ${quoted}`));
  return withDatabase(serverUrl, name);
}

/** Drops database `name` if it exists, disconnecting its sessions (WITH (FORCE), Postgres 13+). */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const quoted = quoteDatabaseName(name);
  await onServer(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`));
}
