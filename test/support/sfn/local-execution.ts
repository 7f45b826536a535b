/**
 * Runs the search's state machine definition — the one synthesized by the
 * CDK stack — on this machine with `aws-local-stepfunctions`: Lambda states
 * call the real handlers in-process (with the `{FunctionName, Payload}` →
 * `{Payload}` envelope of CDK's LambdaInvoke), the Batch state runs the real
 * trainer through `BatchEmulator`, and `states:startExecution` (continue as
 * new) starts another local execution of the same definition, with Step
 * Functions' execution-name rules. Every state entered, retried, caught and
 * how long it took is counted (`LocalStateMachine.stats`).
 *
 * What the engine does not emulate, and the patches made here, are listed
 * in `docs/local-state-machine.md`.
 */
import './polyfill.js';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { NasError } from '../../../shared/errors.js';
import { forEachState, listTasks, prepareDefinition, type AslMachine, type TaskInfo } from './asl.js';
import type { BatchEmulator, SubmitJobRequest } from './batch.js';

/** The Lambda context a handler receives (the fields handlers read). */
export interface LocalLambdaContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
  /** The Node.js 0.10 callbacks; async handlers here return or throw instead. */
  done(error?: Error, result?: unknown): void;
  fail(error: Error | string): void;
  succeed(messageOrObject: unknown): void;
}

/**
 * A Lambda handler as `functions/*.ts` export it: an async function of the
 * event and a `LocalLambdaContext` (typed loosely so that handlers typed
 * with `aws-lambda`'s `Context` fit).
 */
export type LambdaHandler = (event: never, context: never) => unknown;

/** Counters and times for one state name (all executions, all Map iterations). */
export interface StateStats {
  /** Times the state was entered. */
  entered: number;
  /** Calls of its integration (a Lambda handler, a Batch job, a start-execution), retries included. */
  calls: number;
  failed: number;
  retried: number;
  caught: number;
  /** Entered → exited, summed, ms. */
  totalMs: number;
  /** Time inside the integration (handler body, Batch job), summed, ms. */
  integrationMs: number;
}

/** What one or more local executions did. */
export interface ExecutionStats {
  /** State transitions (states entered), as Step Functions bills them. */
  transitions: number;
  readonly states: Record<string, StateStats>;
  /** Execution history events, as Step Functions would count them (approximation: see docs). */
  events: number;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

/** One local execution. */
export interface LocalExecution {
  readonly name: string;
  readonly executionArn: string;
  readonly input: unknown;
  readonly startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: unknown;
  error?: { readonly Error: string; readonly Cause: string };
  /** States entered by this execution. */
  transitions: number;
  /** Settles when the execution ends (never rejects). */
  readonly done: Promise<void>;
}

/** Input of `startExecution`, as the Step Functions API takes it. */
export interface StartExecutionInput {
  readonly stateMachineArn?: string;
  readonly name?: string;
  /** JSON text (the API's form) or a value. */
  readonly input?: unknown;
}

export interface StartExecutionOutput {
  readonly executionArn: string;
  readonly startDate: Date;
}

export interface LocalStateMachineOptions {
  /**
   * Lambda handlers. A Lambda state finds its handler under its state name,
   * its state name with a lower-case first letter (`Propose` → `propose`),
   * or a key that its resolved `FunctionName` contains (case-insensitive).
   */
  readonly lambdas: Readonly<Record<string, LambdaHandler>>;
  /** Runs `batch:submitJob.sync` states. Required if the definition has one. */
  readonly batch?: BatchEmulator;
  /** ARN of the local state machine (`$$.StateMachine.Id`). */
  readonly stateMachineArn?: string;
  /** Pause before every retry in ms, instead of the definition's IntervalSeconds × BackoffRate^n (fast tests). */
  readonly retryIntervalMs?: number;
  /** Passed to the engine's definition validator (default: everything checked). */
  readonly validate?: { readonly checkArn?: boolean; readonly checkPaths?: boolean };
  /** Called for every history event of every execution. */
  readonly onEvent?: (event: LocalHistoryEvent) => void;
}

/** A history event as the engine logs it, with the execution it belongs to. */
export interface LocalHistoryEvent {
  readonly execution: string;
  readonly type: string;
  readonly timestamp: number;
  readonly state?: string;
  readonly index?: number;
  readonly error?: string;
  readonly cause?: unknown;
}

/** `StartExecution` with a name already used (AWS: a closed execution, or a running one with other input). */
export class ExecutionAlreadyExistsError extends Error {
  override readonly name = 'ExecutionAlreadyExists';
  constructor(readonly executionName: string, readonly executionArn: string) {
    super(`Execution Already Exists: '${executionArn}'`);
  }
}

/** The same error, as a Task state with the `states:startExecution` integration reports it. */
class StartExecutionTaskError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** A Lambda function error as Step Functions reports it: Error = the function's error type, Cause = its error JSON. */
class LambdaFunctionError extends Error {
  constructor(errorType: string, cause: string) {
    super(cause);
    this.name = errorType;
  }
}

/** Step Functions' payload limit for state input/output and task results (256 KiB). */
const MAX_PAYLOAD_BYTES = 256 * 1024;

class DataLimitExceededError extends Error {
  override readonly name = 'States.DataLimitExceeded';
}

/** A JSON round trip: what goes over the wire between services, with the payload limit checked. */
function wire<T>(value: T, what: string): T {
  const text = JSON.stringify(value ?? null);
  if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) throw new DataLimitExceededError(`${what}: ${Buffer.byteLength(text)} bytes exceed the 256 KiB payload limit`);
  return JSON.parse(text) as T;
}

const NAME_RE = /^[A-Za-z0-9_-]{1,80}$/;

function emptyStats(): StateStats {
  return { entered: 0, calls: 0, failed: 0, retried: 0, caught: 0, totalMs: 0, integrationMs: 0 };
}

/**
 * One state machine definition, run locally. Executions are started by
 * `startExecution` (the scheduler's port, and the definition's own
 * continue-as-new state) and run concurrently, like on AWS.
 */
export class LocalStateMachine {
  readonly arn: string;
  readonly definition: AslMachine;
  readonly stats: ExecutionStats = { transitions: 0, states: {}, events: 0 };
  private readonly machine: StateMachine;
  private readonly tasks: Map<string, TaskInfo>;
  private readonly handlers: Record<string, (input: never) => Promise<unknown>> = {};
  private readonly executions = new Map<string, LocalExecution>();
  private readonly aborts = new Map<string, () => void>();
  private readonly retryOverrides: Record<string, number> = {};

  constructor(definition: string | AslMachine, private readonly options: LocalStateMachineOptions) {
    this.definition = prepareDefinition(definition);
    this.arn = options.stateMachineArn ?? 'arn:aws:states:local:000000000000:stateMachine:nasflow-search';
    if (!/^arn:aws[\w-]*:states:[\w-]+:\d{12}:stateMachine:[\w-]{1,80}$/.test(this.arn)) throw new NasError(`stateMachineArn: not a state machine ARN: ${this.arn}`);
    this.machine = new StateMachine(this.definition as unknown as StateMachineDefinition, {
      validationOptions: { checkArn: options.validate?.checkArn ?? true, checkPaths: options.validate?.checkPaths ?? true },
    });
    this.tasks = new Map(listTasks(this.definition).map((t) => [t.name, t]));
    for (const task of this.tasks.values()) this.handlers[task.name] = this.taskHandler(task);
    if (options.retryIntervalMs !== undefined) {
      forEachState(this.definition, (name, state) => {
        if (Array.isArray(state['Retry'])) this.retryOverrides[name] = options.retryIntervalMs as number;
      });
    }
  }

  /** Every execution started so far, in start order. */
  list(): LocalExecution[] {
    return [...this.executions.values()];
  }

  /** The execution of that name, or `undefined`. */
  describe(name: string): LocalExecution | undefined {
    return this.executions.get(name);
  }

  /**
   * `StartExecution`: starts an execution and returns at once. Names follow
   * Step Functions' rules for standard workflows: a name may be reused only
   * by a call with the same input while that execution still runs (which
   * returns the running execution); otherwise `ExecutionAlreadyExistsError`.
   */
  startExecution(request: StartExecutionInput): StartExecutionOutput {
    if (request.stateMachineArn !== undefined && request.stateMachineArn !== this.arn) throw new NasError(`StateMachineDoesNotExist: ${request.stateMachineArn}`);
    const name = request.name ?? randomUUID();
    if (!NAME_RE.test(name)) throw new NasError(`InvalidName: execution name '${name}' must be 1-80 letters, digits, '-' or '_'`);
    const input = typeof request.input === 'string' ? (JSON.parse(request.input) as unknown) : (request.input ?? {});
    const inputJson = JSON.stringify(input);
    const existing = this.executions.get(name);
    if (existing) {
      if (existing.status === 'RUNNING' && JSON.stringify(existing.input) === inputJson) return { executionArn: existing.executionArn, startDate: existing.startDate };
      throw new ExecutionAlreadyExistsError(name, existing.executionArn);
    }
    const executionArn = this.arn.replace(':stateMachine:', ':execution:') + `:${name}`;
    const startDate = new Date();
    const run = this.machine.run(wire(input, 'execution input') as never, {
      overrides: { taskResourceLocalHandlers: this.handlers as never, retryIntervalOverrides: this.retryOverrides },
      context: {
        Execution: { Id: executionArn, Name: name, RoleArn: 'arn:aws:iam::000000000000:role/local' },
        StateMachine: { Id: this.arn, Name: this.arn.split(':').pop() },
      },
    });
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    const execution: LocalExecution = { name, executionArn, input, startDate, status: 'RUNNING', transitions: 0, done };
    this.executions.set(name, execution);
    this.aborts.set(name, run.abort);
    const logs = this.consume(execution, run.eventLogs);
    run.result.then(
      (output) => {
        execution.status = 'SUCCEEDED';
        execution.output = output;
      },
      (e: unknown) => {
        const err = e as Error & { cause?: Error };
        const inner = err.cause instanceof Error ? err.cause : err;
        execution.status = err.name === 'ExecutionAbortedError' ? 'ABORTED' : 'FAILED';
        execution.error = { Error: inner.name, Cause: inner.message };
      },
    ).finally(async () => {
      execution.stopDate = new Date();
      this.aborts.delete(name);
      await logs;
      settle();
    });
    return { executionArn, startDate };
  }

  /** Resolves when no execution runs any more, including the ones started meanwhile (continue as new). */
  async idle(): Promise<void> {
    for (;;) {
      const running = this.list().filter((e) => e.status === 'RUNNING');
      if (!running.length) return;
      await Promise.all(running.map((e) => e.done));
    }
  }

  /** Aborts every running execution (test teardown). */
  abortAll(): void {
    for (const abort of this.aborts.values()) abort();
  }

  private stateStats(name: string): StateStats {
    return (this.stats.states[name] ??= emptyStats());
  }

  private async consume(execution: LocalExecution, logs: AsyncGenerator<unknown>): Promise<void> {
    const entered = new Map<string, number>();
    for await (const raw of logs) {
      const ev = raw as { type: string; timestamp: number; index?: number; state?: { name: string }; Error?: string; Cause?: unknown };
      this.stats.events++;
      const state = ev.state?.name;
      const key = `${ev.index ?? '-'}:${state}`;
      if (ev.type === 'StateEntered' && state) {
        execution.transitions++;
        this.stats.transitions++;
        this.stateStats(state).entered++;
        entered.set(key, ev.timestamp);
      } else if (ev.type === 'StateExited' && state) {
        const t0 = entered.get(key);
        // The engine's timestamps: the log is read asynchronously, so the time of reading says nothing.
        if (t0 !== undefined) this.stateStats(state).totalMs += ev.timestamp - t0;
        entered.delete(key);
      } else if (ev.type === 'StateCaught' && state) {
        this.stateStats(state).caught++;
      } else if (ev.type === 'StateFailed' && state) {
        this.stateStats(state).failed++;
      } else if (ev.type === 'StateRetried' && state) {
        this.stateStats(state).retried++;
      }
      this.options.onEvent?.({
        execution: execution.name,
        type: ev.type,
        timestamp: ev.timestamp,
        ...(state ? { state } : {}),
        ...(ev.index !== undefined ? { index: ev.index } : {}),
        ...(ev.Error !== undefined ? { error: ev.Error, cause: ev.Cause } : {}),
      });
    }
  }

  /** The local handler of one Task state: the integration's request/response shapes around the local service. */
  private taskHandler(task: TaskInfo): (input: never) => Promise<unknown> {
    const stats = (): StateStats => this.stateStats(task.name);
    const timed = async <T>(f: () => Promise<T>): Promise<T> => {
      stats().calls++;
      const t0 = performance.now();
      try {
        return await f();
      } finally {
        stats().integrationMs += performance.now() - t0;
      }
    };
    if (task.kind === 'batch') {
      const batch = this.options.batch;
      if (!batch) throw new NasError(`state ${task.name}: the definition submits Batch jobs but no BatchEmulator was given`);
      return (input: never) => timed(() => batch.submitJobSync(wire(input as SubmitJobRequest, `${task.name} parameters`))).then((job) => wire(job, `${task.name} result`));
    }
    if (task.kind === 'start-execution') {
      return async (input: never) => {
        const p = input as { StateMachineArn?: string; Name?: string; Input?: unknown };
        return timed(async () => {
          try {
            const out = this.startExecution({ ...(p.StateMachineArn !== undefined ? { stateMachineArn: p.StateMachineArn } : {}), ...(p.Name !== undefined ? { name: p.Name } : {}), input: p.Input ?? {} });
            return { ExecutionArn: out.executionArn, StartDate: out.startDate.toISOString() };
          } catch (e) {
            if (e instanceof ExecutionAlreadyExistsError) throw new StartExecutionTaskError('StepFunctions.ExecutionAlreadyExistsException', e.message);
            const message = (e as Error).message;
            throw new StartExecutionTaskError(message.startsWith('StateMachineDoesNotExist') ? 'StepFunctions.StateMachineDoesNotExistException' : message.startsWith('InvalidName') ? 'StepFunctions.InvalidNameException' : 'StepFunctions.InvalidExecutionInputException', message);
          }
        });
      };
    }
    const state = this.findState(task.name);
    const functionName = String((state?.Parameters as { FunctionName?: unknown } | undefined)?.FunctionName ?? task.resource);
    const handler = this.lambdaFor(task.name, functionName);
    // lambda:invoke wraps the event as {FunctionName, Payload} and the response as {Payload, StatusCode, ...}; a bare function ARN does not.
    const envelope = /^arn:aws[\w-]*:states:::lambda:invoke$/.test(task.resource);
    return async (input: never) =>
      timed(async () => {
        const event = envelope ? (input as { Payload?: unknown }).Payload : input;
        const requestId = randomUUID();
        const deadline = Date.now() + 900_000;
        const context: LocalLambdaContext = {
          functionName: functionName.split(':').pop() ?? functionName,
          functionVersion: '$LATEST',
          invokedFunctionArn: functionName.startsWith('arn:') ? functionName : `arn:aws:lambda:local:000000000000:function:${functionName}`,
          memoryLimitInMB: '1024',
          awsRequestId: requestId,
          logGroupName: `/aws/lambda/${functionName}`,
          logStreamName: `local/${requestId}`,
          callbackWaitsForEmptyEventLoop: true,
          getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
          done: () => {
            throw new NasError('context.done: callback handlers are not supported locally; return or throw');
          },
          fail: () => {
            throw new NasError('context.fail: callback handlers are not supported locally; throw instead');
          },
          succeed: () => {
            throw new NasError('context.succeed: callback handlers are not supported locally; return instead');
          },
        };
        let result: unknown;
        try {
          result = await handler(wire(event ?? null, `${task.name} payload`) as never, context as never);
        } catch (e) {
          const err = e instanceof Error ? e : new Error(String(e));
          const errorType = err.name && err.name !== 'Error' ? err.name : err.constructor?.name && err.constructor.name !== 'Object' ? err.constructor.name : 'Error';
          throw new LambdaFunctionError(errorType, JSON.stringify({ errorType, errorMessage: err.message, trace: (err.stack ?? '').split('\n') }));
        }
        const payload = wire(result ?? null, `${task.name} response`);
        return envelope
          ? { ExecutedVersion: '$LATEST', Payload: payload, SdkHttpMetadata: { HttpStatusCode: 200 }, SdkResponseMetadata: { RequestId: requestId }, StatusCode: 200 }
          : payload;
      });
  }

  private findState(name: string): { Parameters?: unknown } | undefined {
    let found: { Parameters?: unknown } | undefined;
    forEachState(this.definition, (n, s) => {
      if (n === name) found = s;
    });
    return found;
  }

  private lambdaFor(stateName: string, functionName: string): LambdaHandler {
    const l = this.options.lambdas;
    const lower = stateName.charAt(0).toLowerCase() + stateName.slice(1);
    const direct = l[stateName] ?? l[lower];
    if (direct) return direct;
    const byFunction = Object.keys(l).filter((k) => functionName.toLowerCase().includes(k.toLowerCase()));
    if (byFunction.length === 1) return l[byFunction[0] as string] as LambdaHandler;
    throw new NasError(`state ${stateName}: no local handler for Lambda function ${functionName} (give lambdas.${lower})`);
  }
}

/** What `runDefinitionLocally` returns. */
export interface LocalRunResult {
  readonly machine: LocalStateMachine;
  /** Every execution, the first one and those it continued as, in start order. */
  readonly executions: LocalExecution[];
  readonly stats: ExecutionStats;
  readonly wallMs: number;
}

/**
 * Starts one execution of the definition and waits until it and every
 * execution it started (continue as new) have ended.
 */
export async function runDefinitionLocally(
  definition: string | AslMachine,
  options: LocalStateMachineOptions & { readonly input: unknown; readonly name?: string },
): Promise<LocalRunResult> {
  const machine = new LocalStateMachine(definition, options);
  const t0 = performance.now();
  machine.startExecution({ input: options.input, ...(options.name !== undefined ? { name: options.name } : {}) });
  await machine.idle();
  return { machine, executions: machine.list(), stats: machine.stats, wallMs: performance.now() - t0 };
}
