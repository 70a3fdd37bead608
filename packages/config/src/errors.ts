/**
 * A configuration that cannot be used. `problems` holds one line per problem, each naming where
 * (file:line:col, or the env var) and what was expected; `message` is those lines joined, so printing
 * the error (not its stack) is enough for a human.
 */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    const lines = problems.length > 0 ? problems : ['invalid configuration'];
    super(lines.join('\n'));
    this.name = 'ConfigError';
    this.problems = lines;
  }
}

export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError;
}
