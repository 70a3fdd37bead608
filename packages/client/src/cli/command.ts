/** What every `fleet <name>` command module exports (see the registry in main.ts). */
export interface CliCommandModule {
  /** Text printed by `fleet <name> --help`. */
  help: string;
  /** Runs the command with the arguments after its name; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** Exit codes shared by all commands. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A usage error: main prints its message (one line) and exits with EXIT_USAGE. */
export class UsageError extends Error {
  override name = 'UsageError';
}
