import { FleetError } from '../errors.js';
import { EXIT_FAILURE } from './command.js';

/** Runs a command body; a FleetError becomes one stderr line "fleet <cmd>: <code name>: <message>" and exit 1. */
export async function reportFleetErrors(cmd: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (!(e instanceof FleetError)) throw e;
    process.stderr.write(`fleet ${cmd}: ${e.codeName} (${e.code}): ${e.message}\n`);
    return EXIT_FAILURE;
  }
}
