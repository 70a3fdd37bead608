// The fleet's version, one home: this package's manifest (every Fleet workspace shares the version).
// Imported, not read at run time, so a bundle carries it inline.
import manifest from '../package.json' with { type: 'json' };

/** service.version of every app's spans. */
export const FLEET_VERSION: string = manifest.version;
