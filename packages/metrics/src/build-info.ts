import { Gauge, type Registry } from 'prom-client';
// The one home of the fleet's version: the root package.json (bundled into each app's dist/main.js by
// esbuild, read by Node's JSON modules from source).
import rootPackage from '../../../package.json' with { type: 'json' };

export const FLEET_VERSION: string = rootPackage.version;

/**
 * fleet_build_info{version, node_version} 1 (plus the registry's app label): which build each process runs,
 * to join on (`* on(instance) group_left(version) fleet_build_info`). A cluster primary shows one (first).
 */
export function registerBuildInfo(registry: Registry): void {
  const info = new Gauge({
    name: 'fleet_build_info',
    help: 'Always 1; the labels say which Fleet version and Node.js runtime this process runs.',
    labelNames: ['version', 'node_version'],
    registers: [registry],
    aggregator: 'first',
  });
  info.set({ version: FLEET_VERSION, node_version: process.versions.node }, 1);
}
