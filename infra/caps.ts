/**
 * Account caps: the numbers that bound what the deployed pipeline may run and
 * spend. They are stack props (or CDK context: `npx cdk synth -c maxGpus=4`)
 * and reach the infrastructure (Batch max vCPUs, Map MaxConcurrency, alarms)
 * and the functions (`MAX_*` / `MONTHLY_BUDGET_DOLLARS` environment).
 */

/** One GPU instance type the training cluster may launch. */
export interface GpuInstanceType {
  readonly vcpus: number;
  readonly gpus: number;
  readonly memoryMiB: number;
}

/**
 * GPU instance types nasflow knows the shape of (AWS EC2 instance type pages).
 * Max vCPUs of the compute environment are derived from these, so an
 * instance type outside this table is refused rather than guessed.
 */
export const GPU_INSTANCE_TYPES: Readonly<Record<string, GpuInstanceType>> = {
  'g4dn.xlarge': { vcpus: 4, gpus: 1, memoryMiB: 16_384 },
  'g4dn.2xlarge': { vcpus: 8, gpus: 1, memoryMiB: 32_768 },
  'g4dn.4xlarge': { vcpus: 16, gpus: 1, memoryMiB: 65_536 },
  'g4dn.12xlarge': { vcpus: 48, gpus: 4, memoryMiB: 196_608 },
  'g5.xlarge': { vcpus: 4, gpus: 1, memoryMiB: 16_384 },
  'g5.2xlarge': { vcpus: 8, gpus: 1, memoryMiB: 32_768 },
  'g5.4xlarge': { vcpus: 16, gpus: 1, memoryMiB: 65_536 },
  'g5.12xlarge': { vcpus: 48, gpus: 4, memoryMiB: 196_608 },
  'g6.xlarge': { vcpus: 4, gpus: 1, memoryMiB: 16_384 },
  'g6.2xlarge': { vcpus: 8, gpus: 1, memoryMiB: 32_768 },
};

/** The caps, validated. */
export interface Caps {
  /** Experiments running at once (the scheduler starts no more executions). */
  readonly maxRunningExperiments: number;
  /** GPUs in use at once over all experiments: bounds Batch max vCPUs and each Map's MaxConcurrency. */
  readonly maxGpus: number;
  /** Dollars per calendar month over all experiments (scheduler refuses to start beyond it; alarms at 80 % and 100 %). */
  readonly monthlyBudgetDollars: number;
  /** EC2 instance types of the training cluster (keys of `GPU_INSTANCE_TYPES`). */
  readonly instanceTypes: readonly string[];
  /** Spot capacity (SPOT_CAPACITY_OPTIMIZED) when true, on-demand (BEST_FIT_PROGRESSIVE) when false. */
  readonly spot: boolean;
  /** Wall-clock limit of one training job attempt, in minutes. */
  readonly jobTimeoutMinutes: number;
}

export const DEFAULT_CAPS: Caps = {
  maxRunningExperiments: 2,
  maxGpus: 4,
  monthlyBudgetDollars: 100,
  instanceTypes: ['g5.xlarge', 'g4dn.xlarge'],
  spot: true,
  jobTimeoutMinutes: 240,
};

/** A cap that is missing its meaning: names the field and what it must be. */
export class CapsError extends Error {
  override readonly name = 'CapsError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid nasflow caps:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Caps as they may arrive: props (typed) or CDK context (strings from `-c key=value`). */
export type CapsInput = { readonly [K in keyof Caps]?: Caps[K] | string };

const INTEGER_LIMITS = {
  maxRunningExperiments: [1, 100],
  maxGpus: [1, 256],
  jobTimeoutMinutes: [5, 14 * 24 * 60],
} as const;

/** Fills defaults and checks every field; all problems are reported at once, each naming its field. */
export function resolveCaps(input: CapsInput = {}): Caps {
  const problems: string[] = [];
  const int = (field: keyof typeof INTEGER_LIMITS): number => {
    const raw = input[field] ?? DEFAULT_CAPS[field];
    const n = typeof raw === 'string' ? Number(raw) : raw;
    const [min, max] = INTEGER_LIMITS[field];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      problems.push(`${field}: must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return DEFAULT_CAPS[field];
    }
    return n;
  };
  const maxRunningExperiments = int('maxRunningExperiments');
  const maxGpus = int('maxGpus');
  const jobTimeoutMinutes = int('jobTimeoutMinutes');

  const rawBudget = input.monthlyBudgetDollars ?? DEFAULT_CAPS.monthlyBudgetDollars;
  const monthlyBudgetDollars = typeof rawBudget === 'string' ? Number(rawBudget) : rawBudget;
  if (typeof monthlyBudgetDollars !== 'number' || !Number.isFinite(monthlyBudgetDollars) || monthlyBudgetDollars <= 0) {
    problems.push(`monthlyBudgetDollars: must be a number above 0, got ${JSON.stringify(rawBudget)}`);
  }

  const rawTypes = input.instanceTypes ?? DEFAULT_CAPS.instanceTypes;
  const instanceTypes = (typeof rawTypes === 'string' ? rawTypes.split(',') : [...rawTypes]).map((t) => t.trim()).filter((t) => t !== '');
  if (instanceTypes.length === 0) problems.push('instanceTypes: must name at least one GPU instance type');
  for (const t of instanceTypes) {
    if (!(t in GPU_INSTANCE_TYPES)) problems.push(`instanceTypes: unknown GPU instance type "${t}" (known: ${Object.keys(GPU_INSTANCE_TYPES).join(', ')})`);
  }

  const rawSpot = input.spot ?? DEFAULT_CAPS.spot;
  let spot = DEFAULT_CAPS.spot;
  if (rawSpot === true || rawSpot === 'true') spot = true;
  else if (rawSpot === false || rawSpot === 'false') spot = false;
  else problems.push(`spot: must be true or false, got ${JSON.stringify(rawSpot)}`);

  if (problems.length > 0) throw new CapsError(problems);
  return { maxRunningExperiments, maxGpus, monthlyBudgetDollars: monthlyBudgetDollars as number, instanceTypes, spot, jobTimeoutMinutes };
}

/** Caps from CDK context keys of the same names (`cdk.json` or `-c`), over the defaults. */
export function capsFromContext(tryGetContext: (key: string) => unknown): Caps {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULT_CAPS)) {
    const v = tryGetContext(key);
    if (v !== undefined) input[key] = v;
  }
  return resolveCaps(input as CapsInput);
}

/** Time allowed, per Batch attempt, for an instance to come up before the attempt starts. */
export const CAPACITY_WAIT_MINUTES = 30;

/**
 * How long a Train state waits for its Batch job before the trial is recorded
 * FAILED: each of `attempts` attempts at the job timeout, plus time for
 * capacity before each. Past it Step Functions terminates the job.
 */
export function trainTimeoutMinutes(caps: Caps, attempts: number): number {
  return attempts * (caps.jobTimeoutMinutes + CAPACITY_WAIT_MINUTES);
}

/** The largest vCPU count per GPU among the instance types: one 1-GPU job may occupy that many vCPUs. */
export function vcpusPerGpu(caps: Caps): number {
  return Math.max(...caps.instanceTypes.map((t) => GPU_INSTANCE_TYPES[t]!.vcpus / GPU_INSTANCE_TYPES[t]!.gpus));
}

/** Compute environment max vCPUs: `maxGpus` GPUs' worth of the widest instance type. */
export function maxVcpus(caps: Caps): number {
  return caps.maxGpus * vcpusPerGpu(caps);
}

/** What one training job asks for: 1 GPU and the vCPUs/memory that fit on every allowed instance type next to the ECS agent. */
export function jobResources(caps: Caps): { vcpus: number; memoryMiB: number; gpus: 1 } {
  const shapes = caps.instanceTypes.map((t) => GPU_INSTANCE_TYPES[t]!);
  const vcpus = Math.min(...shapes.map((s) => s.vcpus / s.gpus));
  // ~10 % of an instance's memory goes to the OS, the ECS agent and the NVIDIA driver.
  const memoryMiB = Math.floor((Math.min(...shapes.map((s) => s.memoryMiB / s.gpus)) * 0.85) / 256) * 256;
  return { vcpus, memoryMiB, gpus: 1 };
}
