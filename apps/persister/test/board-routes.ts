// Bull Board's job and queue actions, read from its own route table (so an action an upgrade adds is
// covered), with real values for their path parameters: the routes the auth and read-only tests try.
import { appRoutes } from '@bull-board/api/dist/routes.js';

/** Where the persister's ops server mounts Bull Board. */
export const BOARD = '/ops/queues';

/** Every method and path pair of Bull Board's API that is not a GET (a route may list several of each). */
export function boardActions(queueName: string, jobId: string): { method: string; path: string }[] {
  const params: Record<string, string> = { queueName, jobId, queueStatus: 'waiting', schedulerId: 'any' };
  const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
  return appRoutes.api.flatMap((r) =>
    list(r.method)
      .filter((m) => m.toUpperCase() !== 'GET')
      .flatMap((m) =>
        list(r.route).map((route) => ({
          method: m.toUpperCase(),
          path: BOARD + route.replace(/:(\w+)/g, (_m, name: string) => encodeURIComponent(params[name]!)),
        })),
      ),
  );
}
