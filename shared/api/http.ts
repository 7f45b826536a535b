/**
 * The framework-free HTTP shapes of the nasflow API. `nasflow serve`
 * (node:http) and the API Gateway Lambda (`functions/api.ts`) both translate
 * their own request into an `ApiRequest`, call the same handler, and write
 * the `ApiResponse` back; routes, validation and errors are therefore
 * identical in both places.
 */
import {
  ConditionFailedError,
  DataError,
  ExperimentAlreadyExistsError,
  LeaseHeldError,
  NotFoundError,
  ServiceUnavailableError,
  SpecError,
  StoreBusyError,
  NasError,
  UnsupportedError,
  type SpecIssue,
} from '../errors.js';

/** One request, as the router sees it. Header names are lower-case. */
export interface ApiRequest {
  readonly method: string;
  /** The path without any stage or mount prefix and without the query, e.g. `/experiments/abc/trials`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** The raw body (UTF-8 text; base64 when `isBase64Encoded`, as API Gateway sends binary bodies). */
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  /** The authenticated caller, where the host knows one (API Gateway: the IAM principal ARN). */
  readonly principal?: string;
}

/**
 * One response. `body` is text, or base64 when `isBase64Encoded` (model
 * downloads): the shape API Gateway's proxy integration expects, and easy
 * for node:http to write.
 */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly isBase64Encoded?: boolean;
}

/** The router: one request in, one response out. Never throws; unexpected errors are 500s. */
export type ApiHandler = (req: ApiRequest) => Promise<ApiResponse>;

/** Every error response: `{ error, message, errors? }`; `errors` lists field-level problems of a 400. */
export interface ApiErrorBody {
  /** Stable name to match on: `SpecError`, `NotFound`, `PayloadTooLarge`, ... (an error class name where one exists). */
  readonly error: string;
  readonly message: string;
  readonly errors?: readonly SpecIssue[];
}

/** Default cap on a request body: 256 KiB. */
export const MAX_BODY_BYTES = 256 * 1024;

export function json(status: number, value: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }, body: JSON.stringify(value) };
}

export function errorResponse(status: number, error: string, message: string, errors?: readonly SpecIssue[]): ApiResponse {
  const body: ApiErrorBody = { error, message, ...(errors ? { errors } : {}) };
  return json(status, body);
}

/** The 413 a server sends when a body passes `limit` bytes (node:http stops reading at the limit). */
export function payloadTooLarge(limit = MAX_BODY_BYTES): ApiResponse {
  return errorResponse(413, 'PayloadTooLarge', `request body larger than ${limit} bytes`);
}

/** A 400 naming the bad field(s), the same shape as a spec error. */
export class BadRequestError extends SpecError {
  constructor(issues: readonly SpecIssue[]) {
    super(issues, 'request');
  }
}

/** The host refuses to start more work now (e.g. `nasflow serve --max-searches`); the same request may succeed later. A 429. */
export class TooManySearchesError extends NasError {
  override readonly name = 'TooManySearches';
  constructor(message: string, readonly retryAfterSeconds = 30) {
    super(message);
  }
}

/** The status code and body for an error thrown by a handler: the project's error family by name, anything else a 500. */
export function responseForError(e: unknown, log: (e: unknown) => void = () => undefined): ApiResponse {
  if (e instanceof SpecError) return errorResponse(400, e.name, e.message, e.issues);
  if (e instanceof DataError || e instanceof UnsupportedError) return errorResponse(400, e.name, e.message, [{ path: '', message: e.message }]);
  if (e instanceof NotFoundError) return errorResponse(404, e.name, e.message);
  if (e instanceof ExperimentAlreadyExistsError || e instanceof ConditionFailedError || e instanceof LeaseHeldError) return errorResponse(409, e.name, e.message);
  if (e instanceof TooManySearchesError) return { ...errorResponse(429, e.name, e.message), headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': String(e.retryAfterSeconds) } };
  if (e instanceof StoreBusyError || e instanceof ServiceUnavailableError) return { ...errorResponse(503, e.name, e.message), headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' } };
  log(e);
  return errorResponse(500, 'InternalError', 'internal error');
}
