import { ConfigurationError } from '../functions/runtime/errors.js';

/** Thrown when a construct's props are invalid; lists every problem, so one synth shows them all. */
export class ConstructPropsError extends ConfigurationError {
  constructor(
    /** The construct path (or class name) whose props were rejected. */
    readonly where: string,
    problems: readonly string[],
  ) {
    super(`Invalid props for ${where}:\n- ${problems.join('\n- ')}`, problems);
    this.name = 'ConstructPropsError';
  }
}

/** Throws a {@link ConstructPropsError} when `problems` is not empty. */
export function assertNoProblems(where: string, problems: readonly string[]): void {
  if (problems.length > 0) throw new ConstructPropsError(where, problems);
}
