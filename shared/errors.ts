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

/**
 * Text safe to show on a terminal: control characters (C0, DEL, C1, and the
 * bidirectional overrides that reorder what is shown) become visible escapes
 * such as `\x1b`, so text from a spec or a file cannot move the cursor,
 * recolour the screen or fake a line. Newlines are kept when `keepNewlines`.
 */
export function printable(text: string, keepNewlines = false): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (keepNewlines && c === '\n') return c;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** User input (a spec, an architecture, options) is invalid; lists every problem found. */
export class SpecError extends NasError {
  override readonly name = 'SpecError';
  constructor(readonly issues: readonly SpecIssue[], what = 'spec') {
    // One line per issue whatever the input held: paths and messages may quote it.
    super(`invalid ${what}:\n${issues.map((i) => `  - ${printable(i.path) || '(root)'}: ${printable(i.message)}`).join('\n')}`);
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

/** A service the request needs (e.g. the experiments queue) did not answer; nothing was started, try again. */
export class ServiceUnavailableError extends NasError {
  override readonly name = 'ServiceUnavailableError';
}

/** True for errors caused by the user's input, which are reported without a stack trace. */
export function isUserError(e: unknown): e is NasError {
  return e instanceof SpecError || e instanceof DataError || e instanceof UnsupportedError;
}

/**
 * The store family: what an `ExperimentStore` adapter throws. Adapters
 * translate their vendor's errors (SQLite, DynamoDB) into these, so callers
 * and the state machine match on `name` whatever the backend.
 */
export class StoreError extends NasError {
  override readonly name: string = 'StoreError';
}

/** An experiment, trial or budget reservation that does not exist. */
export class NotFoundError extends StoreError {
  override readonly name = 'NotFoundError';
  constructor(readonly kind: 'experiment' | 'trial' | 'reservation', readonly id: string) {
    super(`${kind} not found: ${id}`);
  }
}

/** `createExperiment` with an id that is already taken. */
export class ExperimentAlreadyExistsError extends StoreError {
  override readonly name = 'ExperimentAlreadyExistsError';
  constructor(readonly id: string) {
    super(`experiment already exists: ${id}`);
  }
}

/** `createTrial` with an id already used by a trial of different content. */
export class TrialAlreadyExistsError extends StoreError {
  override readonly name = 'TrialAlreadyExistsError';
  constructor(readonly id: string) {
    super(`a different trial already exists with id ${id}`);
  }
}

/** A conditional write whose condition did not hold (wrong state, finished trial, lost lease). */
export class ConditionFailedError extends StoreError {
  override readonly name = 'ConditionFailedError';
}

/** A reservation that would take spent + reserved past a budget limit. Nothing was reserved. */
export class BudgetExceededError extends StoreError {
  override readonly name = 'BudgetExceededError';
  constructor(
    readonly resource: 'trials' | 'hours' | 'dollars',
    readonly limit: number,
    /** spent + reserved + this reservation. */
    readonly wouldBe: number,
  ) {
    super(`budget exceeded: ${resource} would reach ${wouldBe} of ${limit}`);
  }
}

/** Another owner holds a live lease on the experiment. */
export class LeaseHeldError extends StoreError {
  override readonly name = 'LeaseHeldError';
  constructor(readonly experimentId: string, readonly holder: string, readonly expiresAt: number) {
    super(`experiment ${experimentId} is held by ${holder} until ${new Date(expiresAt).toISOString()}`);
  }
}

/** A lease the caller thought it held was released or taken over; it must stop writing. */
export class LeaseLostError extends StoreError {
  override readonly name = 'LeaseLostError';
  constructor(readonly experimentId: string, readonly owner: string, readonly holder?: string) {
    super(`lease on experiment ${experimentId} lost by ${owner}${holder ? ` (now held by ${holder})` : ''}`);
  }
}

/** The store stayed locked or unreachable past its timeout; the same call may succeed later. */
export class StoreBusyError extends StoreError {
  override readonly name = 'StoreBusyError';
}
