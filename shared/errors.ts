/**
 * One error family with stable names. Handlers, the CLI and the state
 * machine's Catch blocks match on `name`, never on message text.
 */
export class NasError extends Error {
  override readonly name: string = 'NasError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** One problem found in user input: where it is and what was expected. */
export interface SpecIssue {
  /** Path of the bad field, e.g. `space.layer.kernel.when`. Empty for the root. */
  readonly path: string;
  readonly message: string;
}

/** User input (a spec, an architecture, options) is invalid; lists every problem found. */
export class SpecError extends NasError {
  override readonly name = 'SpecError';
  constructor(readonly issues: readonly SpecIssue[], what = 'spec') {
    super(`invalid ${what}:\n${issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
  }
}

/** A file or data set could not be read or has the wrong format. */
export class DataError extends NasError {
  override readonly name = 'DataError';
}

/** A strategy, space or evaluator was asked for something it cannot do. */
export class UnsupportedError extends NasError {
  override readonly name = 'UnsupportedError';
}

/** True for errors caused by the user's input, which are reported without a stack trace. */
export function isUserError(e: unknown): e is NasError {
  return e instanceof SpecError || e instanceof DataError || e instanceof UnsupportedError;
}
