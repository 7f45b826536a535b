/**
 * A local AWS Batch for the state machine's `batch:submitJob.sync` state:
 * each job attempt runs the trainer entrypoint as a child process (the
 * container's ENTRYPOINT, with the state's `ContainerOverrides.Command` as
 * its arguments), and the job definition's retry strategy — read from the
 * synthesized template — decides after each failed attempt whether to run
 * it again, exactly as Batch's `evaluateOnExit` does.
 *
 * Faults a real compute environment produces can be injected per attempt:
 * a spot reclaim ("Host EC2 (instance i-…) terminated.", SIGTERM to the
 * running container, or the host gone before the container started).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { NasError } from '../../../shared/errors.js';

/** One `evaluateOnExit` entry; patterns match exactly or, ending in `*`, by prefix. */
export interface EvaluateOnExit {
  readonly action: 'RETRY' | 'EXIT';
  readonly onExitCode?: string;
  readonly onReason?: string;
  readonly onStatusReason?: string;
}

/** A job definition's retry strategy: `attempts` in all (1–10), `evaluateOnExit` in order. */
export interface RetryStrategy {
  readonly attempts: number;
  readonly evaluateOnExit: readonly EvaluateOnExit[];
}

/** What the emulator needs from a job definition. */
export interface JobDefinitionInfo {
  /** Logical id in the template. */
  readonly logicalId: string;
  readonly retryStrategy: RetryStrategy;
  /** `Timeout.AttemptDurationSeconds`: an attempt running longer is terminated. */
  readonly attemptDurationSeconds?: number;
  /** Default container command (used when the job gives no `ContainerOverrides.Command`). */
  readonly command?: readonly string[];
  /** Container environment of the job definition. */
  readonly environment: Readonly<Record<string, string>>;
}

type Json = Record<string, unknown>;

/** Reads every `AWS::Batch::JobDefinition` of a CloudFormation template. */
export function jobDefinitionsFromTemplate(template: unknown): JobDefinitionInfo[] {
  const resources = (template as { Resources?: Record<string, { Type?: string; Properties?: Json }> } | undefined)?.Resources;
  if (!resources || typeof resources !== 'object') throw new NasError('template: no Resources');
  const out: JobDefinitionInfo[] = [];
  for (const [logicalId, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::Batch::JobDefinition') continue;
    const p = r.Properties ?? {};
    const rs = (p['RetryStrategy'] ?? {}) as { Attempts?: unknown; EvaluateOnExit?: unknown };
    const attempts = rs.Attempts === undefined ? 1 : Number(rs.Attempts);
    if (!Number.isInteger(attempts) || attempts < 1 || attempts > 10) throw new NasError(`template: ${logicalId}.Properties.RetryStrategy.Attempts must be an integer 1-10, got ${JSON.stringify(rs.Attempts)}`);
    const entries = Array.isArray(rs.EvaluateOnExit) ? (rs.EvaluateOnExit as Json[]) : [];
    const evaluateOnExit = entries.map((e, i): EvaluateOnExit => {
      const action = String(e['Action'] ?? '').toUpperCase();
      if (action !== 'RETRY' && action !== 'EXIT') throw new NasError(`template: ${logicalId}.Properties.RetryStrategy.EvaluateOnExit[${i}].Action must be RETRY or EXIT, got ${JSON.stringify(e['Action'])}`);
      const str = (k: string) => (typeof e[k] === 'string' ? { [k.charAt(0).toLowerCase() + k.slice(1)]: e[k] as string } : {});
      return { action, ...str('OnExitCode'), ...str('OnReason'), ...str('OnStatusReason') };
    });
    const timeout = (p['Timeout'] as { AttemptDurationSeconds?: unknown } | undefined)?.AttemptDurationSeconds;
    const container = (p['ContainerProperties'] ?? {}) as { Command?: unknown; Environment?: unknown };
    const env: Record<string, string> = {};
    if (Array.isArray(container.Environment)) {
      for (const e of container.Environment as { Name?: unknown; Value?: unknown }[]) if (typeof e.Name === 'string' && typeof e.Value === 'string') env[e.Name] = e.Value;
    }
    out.push({
      logicalId,
      retryStrategy: { attempts, evaluateOnExit },
      ...(typeof timeout === 'number' ? { attemptDurationSeconds: timeout } : {}),
      ...(Array.isArray(container.Command) && container.Command.every((c) => typeof c === 'string') ? { command: container.Command as string[] } : {}),
      environment: env,
    });
  }
  return out;
}

/** Batch's pattern match: exact, or a prefix when the pattern ends in `*`. An absent value matches as the empty string. */
export function matchesPattern(pattern: string, value: string | undefined): boolean {
  const v = value ?? '';
  return pattern.endsWith('*') ? v.startsWith(pattern.slice(0, -1)) : v === pattern;
}

/** The action the retry strategy takes on a failed attempt; no matching entry means RETRY (as Batch does). */
export function evaluateAttempt(strategy: RetryStrategy, attempt: { exitCode?: number; reason?: string; statusReason?: string }): 'RETRY' | 'EXIT' {
  for (const e of strategy.evaluateOnExit) {
    if (e.onExitCode !== undefined && !matchesPattern(e.onExitCode, attempt.exitCode === undefined ? undefined : String(attempt.exitCode))) continue;
    if (e.onReason !== undefined && !matchesPattern(e.onReason, attempt.reason)) continue;
    if (e.onStatusReason !== undefined && !matchesPattern(e.onStatusReason, attempt.statusReason)) continue;
    return e.action;
  }
  return 'RETRY';
}

/** A job as the `Train` state submits it (the state's resolved Parameters). */
export interface SubmitJobRequest {
  readonly JobName: string;
  readonly JobQueue?: string;
  readonly JobDefinition?: string;
  readonly ContainerOverrides?: { readonly Command?: readonly string[]; readonly Environment?: readonly { Name: string; Value: string }[] };
  readonly Tags?: Readonly<Record<string, string>>;
  readonly PropagateTags?: boolean;
  readonly [field: string]: unknown;
}

/** A fault injected into one attempt. */
export type BatchFault =
  /** Spot reclaim while the container runs: SIGTERM once it logged `"event":"start"` (or after `afterMs`), then the host is gone. */
  | { readonly kind: 'host-terminated'; readonly afterMs?: number }
  /** Spot reclaim before the container started: the attempt fails without running. */
  | { readonly kind: 'host-terminated-before-start' }
  /**
   * The container exits with `code` without training: a process that only
   * exits runs in the trainer's place (a crash, an out-of-memory kill, a
   * trainer interrupted with 75), so the retry strategy and the state
   * machine's Catch see exactly what that exit would give them.
   */
  | { readonly kind: 'exit'; readonly code: number };

/** Which attempt of which job a fault hook is asked about. */
export interface AttemptInfo {
  readonly jobName: string;
  readonly jobId: string;
  readonly command: readonly string[];
  /** 1-based. */
  readonly attempt: number;
}

export interface BatchEmulatorOptions {
  /** The job definition (from `jobDefinitionsFromTemplate`). */
  readonly jobDefinition: JobDefinitionInfo;
  /** The container's ENTRYPOINT here: argv prefix, e.g. `[node, --import, tsx, containers/trainer/entrypoint.ts]`. */
  readonly entrypoint: readonly string[];
  readonly cwd?: string;
  /** Environment of every container (NASFLOW_ARTIFACTS, endpoints of the local AWS servers, ...), over the job definition's. */
  readonly env?: Readonly<Record<string, string>>;
  /** Whether the host process's environment is inherited (default true: PATH, HOME, ...). */
  readonly inheritEnv?: boolean;
  /** Fault hook, asked before every attempt. */
  readonly fault?: (attempt: AttemptInfo) => BatchFault | undefined;
  /** Container output lines (stdout and stderr). */
  readonly onOutput?: (line: string, attempt: AttemptInfo) => void;
}

/** One attempt as Batch describes it. */
export interface AttemptRecord {
  readonly Container: { readonly ExitCode?: number; readonly Reason?: string; readonly LogStreamName: string };
  readonly StartedAt: number;
  readonly StoppedAt: number;
  readonly StatusReason: string;
}

/** The job description `submitJob.sync` returns (as DescribeJobs, field names as Step Functions passes them). */
export interface JobDescription {
  readonly JobArn: string;
  readonly JobId: string;
  readonly JobName: string;
  readonly JobQueue: string;
  readonly JobDefinition: string;
  readonly Status: 'SUCCEEDED' | 'FAILED';
  readonly StatusReason?: string;
  readonly Attempts: readonly AttemptRecord[];
  readonly Container: { readonly Command: readonly string[]; readonly ExitCode?: number; readonly Reason?: string; readonly LogStreamName?: string };
  readonly RetryStrategy: { readonly Attempts: number };
  readonly Tags: Readonly<Record<string, string>>;
  readonly PropagateTags: boolean;
  readonly CreatedAt: number;
  readonly StartedAt: number;
  readonly StoppedAt: number;
}

/** What the emulator measured: jobs, attempts, and where the time went. */
export interface BatchStats {
  jobs: number;
  attempts: number;
  retries: number;
  failedJobs: number;
  /** Faults that reached an attempt (a reclaim signalled to a container that had already exited does not count). */
  faultsInjected: number;
  /** Wall time of the container processes (spawn to exit), ms. */
  containerMs: number;
  /** Time the trainer itself reported (first to last log line), ms. */
  trainerMs: number;
}

/** Status reasons Batch gives. */
export const STATUS_REASON = {
  exited: 'Essential container in task exited',
  timeout: 'Job attempt duration exceeded timeout',
  hostTerminated: (instance: string) => `Host EC2 (instance ${instance}) terminated.`,
} as const;

interface ContainerExit {
  exitCode?: number;
  reason?: string;
  startedAt: number;
  stoppedAt: number;
  trainerMs: number;
  timedOut: boolean;
  /** A `host-terminated` fault reached the container (it had not exited yet). */
  reclaimed: boolean;
}

/** A local Batch job queue over one job definition. */
export class BatchEmulator {
  readonly stats: BatchStats = { jobs: 0, attempts: 0, retries: 0, failedJobs: 0, faultsInjected: 0, containerMs: 0, trainerMs: 0 };
  /** Every job submitted, in order. */
  readonly jobs: JobDescription[] = [];
  private readonly running = new Set<ReturnType<typeof spawn>>();

  constructor(private readonly options: BatchEmulatorOptions) {
    if (!options.entrypoint.length) throw new NasError('BatchEmulator: entrypoint is empty');
  }

  /** `batch:submitJob.sync`: runs the job to its end; resolves with the description of a SUCCEEDED job and throws `States.TaskFailed` for a FAILED one. */
  async submitJobSync(request: SubmitJobRequest): Promise<JobDescription> {
    const job = await this.run(request);
    if (job.Status === 'FAILED') throw new BatchJobFailedError(job);
    return job;
  }

  /** Runs a job through its attempts and returns its description (SUCCEEDED or FAILED). */
  async run(request: SubmitJobRequest): Promise<JobDescription> {
    if (typeof request.JobName !== 'string' || !/^[A-Za-z0-9][\w-]{0,127}$/.test(request.JobName)) {
      throw new BatchClientError(`JobName must be 1-128 letters, digits, hyphens and underscores, starting with a letter or digit; got ${JSON.stringify(request.JobName)}`);
    }
    const def = this.options.jobDefinition;
    const command = request.ContainerOverrides?.Command ?? def.command ?? [];
    if (!Array.isArray(command) || !command.every((c) => typeof c === 'string')) throw new BatchClientError('ContainerOverrides.Command must be a list of strings');
    const jobId = `${randomBytes(4).toString('hex')}-${randomBytes(2).toString('hex')}-local`;
    const createdAt = Date.now();
    this.stats.jobs++;
    const overrideEnv = Object.fromEntries((request.ContainerOverrides?.Environment ?? []).map((e) => [e.Name, e.Value]));
    const attempts: AttemptRecord[] = [];
    let status: JobDescription['Status'] = 'FAILED';
    let last: ContainerExit | undefined;
    for (let attempt = 1; attempt <= def.retryStrategy.attempts; attempt++) {
      this.stats.attempts++;
      if (attempt > 1) this.stats.retries++;
      const info: AttemptInfo = { jobName: request.JobName, jobId, command, attempt };
      const fault = this.options.fault?.(info);

      const instance = `i-${randomBytes(8).toString('hex').slice(0, 17)}`;
      let statusReason: string;
      if (fault?.kind === 'host-terminated-before-start') {
        const t = Date.now();
        last = { startedAt: t, stoppedAt: t, trainerMs: 0, timedOut: false, reclaimed: true };
        statusReason = STATUS_REASON.hostTerminated(instance);
      } else {
        last = await this.runContainer(info, { ...def.environment, ...this.options.env, ...overrideEnv }, fault);
        statusReason = last.reclaimed ? STATUS_REASON.hostTerminated(instance) : last.timedOut ? STATUS_REASON.timeout : STATUS_REASON.exited;
      }
      attempts.push({
        Container: { ...(last.exitCode !== undefined ? { ExitCode: last.exitCode } : {}), ...(last.reason ? { Reason: last.reason } : {}), LogStreamName: `${request.JobName}/default/${jobId}-${attempt}` },
        StartedAt: last.startedAt,
        StoppedAt: last.stoppedAt,
        StatusReason: statusReason,
      });
      if (last.reclaimed || fault?.kind === 'exit') this.stats.faultsInjected++;
      if (last.exitCode === 0 && !last.reclaimed) {
        status = 'SUCCEEDED';
        break;
      }
      const action = evaluateAttempt(def.retryStrategy, { ...(last.exitCode !== undefined ? { exitCode: last.exitCode } : {}), ...(last.reason ? { reason: last.reason } : {}), statusReason });
      if (action === 'EXIT') break;
    }
    if (status === 'FAILED') this.stats.failedJobs++;
    const lastAttempt = attempts[attempts.length - 1] as AttemptRecord;
    const job: JobDescription = {
      JobArn: `arn:aws:batch:local:000000000000:job/${jobId}`,
      JobId: jobId,
      JobName: request.JobName,
      JobQueue: String(request.JobQueue ?? 'local'),
      JobDefinition: String(request.JobDefinition ?? def.logicalId),
      Status: status,
      ...(status === 'FAILED' ? { StatusReason: lastAttempt.StatusReason } : {}),
      Attempts: attempts,
      Container: { Command: [...command], ...lastAttempt.Container },
      RetryStrategy: { Attempts: def.retryStrategy.attempts },
      Tags: { ...(request.Tags ?? {}) },
      PropagateTags: request.PropagateTags === true,
      CreatedAt: createdAt,
      StartedAt: (attempts[0] as AttemptRecord).StartedAt,
      StoppedAt: lastAttempt.StoppedAt,
    };
    this.jobs.push(job);
    return job;
  }

  /** Kills every container still running (SIGKILL); for test teardown. */
  killAll(): void {
    for (const child of this.running) child.kill('SIGKILL');
  }

  private runContainer(info: AttemptInfo, env: Record<string, string>, fault: BatchFault | undefined): Promise<ContainerExit> {
    const [cmd, ...prefix] = this.options.entrypoint as [string, ...string[]];
    const argv = fault?.kind === 'exit' ? ['-e', `process.exit(${Math.trunc(fault.code)})`] : [...prefix, ...info.command];
    const startedAt = Date.now();
    const child = spawn(fault?.kind === 'exit' ? process.execPath : cmd, argv, {
      cwd: this.options.cwd,
      env: { ...(this.options.inheritEnv === false ? {} : process.env), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.running.add(child);
    let firstLog: number | undefined;
    let lastLog: number | undefined;
    let signalled = false;
    let timedOut = false;
    const reclaim = (): void => {
      if (signalled || child.exitCode !== null) return;
      signalled = true;
      child.kill('SIGTERM');
    };
    let reclaimTimer: NodeJS.Timeout | undefined;
    if (fault?.kind === 'host-terminated' && fault.afterMs !== undefined) reclaimTimer = setTimeout(reclaim, fault.afterMs);
    const limit = this.options.jobDefinition.attemptDurationSeconds;
    const timeoutTimer = limit !== undefined ? setTimeout(() => { timedOut = true; child.kill('SIGTERM'); setTimeout(() => child.kill('SIGKILL'), 30_000).unref(); }, limit * 1000) : undefined;
    const onLines = (buf: Buffer, partial: { s: string }) => {
      partial.s += buf.toString('utf8');
      const lines = partial.s.split('\n');
      partial.s = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        const t = Date.now();
        if (line.startsWith('{')) {
          firstLog ??= t;
          lastLog = t;
        }
        if (fault?.kind === 'host-terminated' && fault.afterMs === undefined && line.includes('"event":"start"')) reclaim();
        this.options.onOutput?.(line, info);
      }
    };
    const out = { s: '' };
    const err = { s: '' };
    child.stdout?.on('data', (b: Buffer) => onLines(b, out));
    child.stderr?.on('data', (b: Buffer) => onLines(b, err));
    return new Promise((resolveExit) => {
      child.on('error', (e) => {
        this.running.delete(child);
        clearTimeout(reclaimTimer);
        clearTimeout(timeoutTimer);
        const t = Date.now();
        resolveExit({ reason: `CannotStartContainerError: ${e.message}`, startedAt, stoppedAt: t, trainerMs: 0, timedOut: false, reclaimed: false });
      });
      child.on('close', (code, signal) => {
        this.running.delete(child);
        clearTimeout(reclaimTimer);
        clearTimeout(timeoutTimer);
        const stoppedAt = Date.now();
        // Docker reports a container killed by a signal as 128 + the signal number.
        const exitCode = code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : undefined);
        const trainerMs = firstLog !== undefined && lastLog !== undefined ? lastLog - firstLog : 0;
        this.stats.containerMs += stoppedAt - startedAt;
        this.stats.trainerMs += trainerMs;
        resolveExit({ ...(exitCode !== undefined ? { exitCode } : {}), startedAt, stoppedAt, trainerMs, timedOut, reclaimed: signalled });
      });
    });
  }
}

/** A FAILED job, as Step Functions reports it from `submitJob.sync`: `States.TaskFailed`, the job description as cause. */
export class BatchJobFailedError extends Error {
  override readonly name = 'States.TaskFailed';
  constructor(readonly job: JobDescription) {
    super(JSON.stringify(job));
  }
}

/** A request Batch itself rejects (`Batch.BatchException` / `Batch.ClientException` in Step Functions). */
export class BatchClientError extends Error {
  override readonly name = 'Batch.ClientException';
}
