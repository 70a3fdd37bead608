import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { type BasicAuthCredentials, basicAuthChallenge, basicAuthMatches } from './basic-auth.js';

export interface HealthResult {
  ok: boolean;
  details?: object;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Readiness check for /readyz (default: always ready). */
  health?: () => Promise<HealthResult>;
  /** ops.basic_auth: /metrics answers 401 without these credentials (probes stay open). */
  basicAuth?: BasicAuthCredentials | undefined;
  /** ops.public_metrics: /metrics needs no credentials even with basicAuth set. */
  publicMetrics?: boolean;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const JSON_TYPE = 'application/json; charset=utf-8';
const REALM = 'fleet-metrics';

/**
 * /metrics, /healthz (process alive) and /readyz (health()) on a plain node:http server. Read-only: any
 * method but GET/HEAD is 405. With basicAuth, /metrics needs the credentials unless publicMetrics;
 * /healthz and /readyz never do (probes cannot send them), so health() should report no more than
 * up/ready (the gateway and worker return `{ ok }` only).
 */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const guard = opts.publicMetrics ? undefined : opts.basicAuth;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, JSON_TYPE, '{"error":"method not allowed"}');
    if (path === '/metrics') {
      if (guard && !basicAuthMatches(req.headers.authorization, guard)) {
        res.setHeader('www-authenticate', basicAuthChallenge(REALM));
        return send(res, 401, JSON_TYPE, '{"error":"unauthorized"}');
      }
      return send(res, 200, opts.registry.contentType, await opts.registry.metrics());
    }
    if (path === '/healthz') return send(res, 200, JSON_TYPE, '{"ok":true}');
    if (path === '/readyz') {
      let result: HealthResult;
      try {
        result = opts.health ? await opts.health() : { ok: true };
      } catch (err) {
        // The reason is kept short and generic: health errors may carry connection strings.
        result = { ok: false, details: { error: err instanceof Error ? err.name : 'error' } };
      }
      return send(res, result.ok ? 200 : 503, JSON_TYPE, JSON.stringify(result));
    }
    send(res, 404, JSON_TYPE, '{"error":"not found"}');
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, JSON_TYPE, '{"error":"internal"}');
      else res.destroy();
    });
  });
  // Scrapes are short; don't let keep-alive sockets hold shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
