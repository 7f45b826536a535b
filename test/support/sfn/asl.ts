/**
 * The slice of the Amazon States Language the local execution needs to know
 * about: which Task states call what (Lambda, Batch, Step Functions), and the
 * few patches a definition needs before `aws-local-stepfunctions` can run it
 * as AWS would (see `docs/local-state-machine.md`).
 */
import { NasError } from '../../../shared/errors.js';

/** A state as it appears in a definition (only the fields read here are typed). */
export interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly TimeoutSeconds?: number;
  readonly TimeoutSecondsPath?: string;
  readonly ItemProcessor?: AslMachine;
  readonly Iterator?: AslMachine;
  readonly Branches?: readonly AslMachine[];
  readonly [field: string]: unknown;
}

/** A state machine (or a Map's item processor / a Parallel branch). */
export interface AslMachine {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
  readonly [field: string]: unknown;
}

/** What a Task state integrates with. */
export type TaskKind = 'lambda' | 'batch' | 'start-execution';

/** One Task state of a definition, wherever it is nested. */
export interface TaskInfo {
  readonly name: string;
  readonly kind: TaskKind;
  readonly resource: string;
  /** `.sync` / `.waitForTaskToken` suffix of an optimized integration, if any. */
  readonly pattern: 'request-response' | 'sync' | 'sync:2' | 'wait-for-task-token';
}

/** Fields a definition may not use here: the local engine ignores them silently (JSONata, variables). */
const UNSUPPORTED_FIELDS = ['Arguments', 'Output', 'Assign', 'QueryLanguage', 'Items', 'ItemReader', 'ItemBatcher', 'ResultWriter'];

/**
 * The longest timer Node accepts (2^31-1 ms): AWS's "no timeout"
 * (99999999 s) would overflow `setTimeout` and fire after 1 ms.
 */
export const MAX_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** Calls `f` on every state of the machine and of its nested machines (Map processors, Parallel branches). */
export function forEachState(machine: AslMachine, f: (name: string, state: AslState, path: string) => void, path = ''): void {
  for (const [name, state] of Object.entries(machine.States)) {
    const here = path ? `${path}.${name}` : name;
    f(name, state, here);
    const nested = state.ItemProcessor ?? state.Iterator;
    if (nested) forEachState(nested, f, here);
    state.Branches?.forEach((b, i) => forEachState(b, f, `${here}[${i}]`));
  }
}

/** Classifies a Task state's `Resource`. Throws for an integration the local execution cannot run. */
export function taskKind(name: string, resource: string): TaskInfo {
  const m = /^arn:aws[\w-]*:states:::([\w-]+):([\w]+)(?:\.(sync(?::2)?|waitForTaskToken))?$/.exec(resource);
  const pattern = (p: string | undefined): TaskInfo['pattern'] => (p === 'sync' ? 'sync' : p === 'sync:2' ? 'sync:2' : p === 'waitForTaskToken' ? 'wait-for-task-token' : 'request-response');
  if (m) {
    const [, service, action, suffix] = m;
    if (service === 'lambda' && action === 'invoke' && suffix === undefined) return { name, kind: 'lambda', resource, pattern: 'request-response' };
    if (service === 'batch' && action === 'submitJob' && suffix === 'sync') return { name, kind: 'batch', resource, pattern: 'sync' };
    if (service === 'states' && action === 'startExecution' && suffix === undefined) return { name, kind: 'start-execution', resource, pattern: pattern(suffix) };
  } else if (/^arn:aws[\w-]*:lambda:/.test(resource)) {
    // A Lambda ARN as resource: the legacy integration (CDK `payloadResponseOnly`), no {Payload} envelope.
    return { name, kind: 'lambda', resource, pattern: 'request-response' };
  }
  throw new NasError(`state ${name}: the local execution cannot run resource '${resource}' (supported: lambda:invoke, batch:submitJob.sync, states:startExecution)`);
}

/** Every Task state of the definition, classified. */
export function listTasks(definition: AslMachine): TaskInfo[] {
  const tasks: TaskInfo[] = [];
  forEachState(definition, (name, state) => {
    if (state.Type === 'Task') tasks.push(taskKind(name, String(state.Resource)));
  });
  return tasks;
}

/**
 * A definition parsed from a string or copied from an object, checked for
 * what the local engine would silently ignore, with two patches that make it
 * behave as on AWS:
 * - a Task state without `TimeoutSeconds` gets the longest timer Node has
 *   (the engine's default is 60 s; AWS's is "none", bounded by the
 *   integration: a Lambda's own timeout, a Batch job's attempt duration);
 * - state names must be unique across nested machines, because the engine
 *   keys local task handlers by state name.
 */
export function prepareDefinition(definition: string | AslMachine): AslMachine {
  const def = JSON.parse(typeof definition === 'string' ? definition : JSON.stringify(definition)) as AslMachine;
  if (!def || typeof def !== 'object' || typeof def.StartAt !== 'string' || !def.States || typeof def.States !== 'object') {
    throw new NasError('state machine definition: expected an object with StartAt and States');
  }
  if (def['QueryLanguage'] === 'JSONata') throw new NasError('state machine definition: QueryLanguage JSONata is not supported locally (use JSONPath)');
  const seen = new Map<string, string>();
  forEachState(def, (name, state, path) => {
    for (const field of UNSUPPORTED_FIELDS) {
      if (field in state) throw new NasError(`state ${path}: field ${field} is not supported by the local execution (JSONPath only)`);
    }
    const other = seen.get(name);
    if (other !== undefined) throw new NasError(`state ${path}: the name is also used by ${other}; local task handlers are keyed by state name`);
    seen.set(name, path);
    if (state.Type === 'Task') {
      taskKind(path, String(state.Resource));
      if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) (state as { TimeoutSeconds?: number }).TimeoutSeconds = MAX_TIMEOUT_SECONDS;
    }
  });
  return def;
}
