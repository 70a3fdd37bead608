import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** PGlite (Postgres compiled to WASM, in this process) served over the wire protocol so `pg` works as is. */
export interface EmbeddedPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (user and database name are ignored by PGlite). */
  readonly url: string;
  readonly port: number;
  /** Connections the socket server accepts at once (see MAX_CONNECTIONS). */
  readonly maxConnections: number;
  stop(): Promise<void>;
}

/**
 * PGlite has ONE session. PGLiteSocketServer multiplexes connections over it with a query queue that,
 * while a transaction is open, serves only the connection that opened it, so pooled clients with
 * concurrent transactions work (test/services/embedded-postgres.test.ts proves it). Connections past this
 * limit are refused, so pools must stay at or below it.
 */
export const EMBEDDED_MAX_CONNECTIONS = 100;

export async function startEmbeddedPostgres(opts: { dataDir?: string } = {}): Promise<EmbeddedPostgres> {
  const db = opts.dataDir ? new PGlite(opts.dataDir) : new PGlite();
  await db.waitReady;
  const server = new PGLiteSocketServer({
    db,
    host: '127.0.0.1',
    port: 0,
    maxConnections: EMBEDDED_MAX_CONNECTIONS,
  });
  await server.start();
  const port = Number(server.getServerConn().split(':').pop());
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    maxConnections: EMBEDDED_MAX_CONNECTIONS,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
