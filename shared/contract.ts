/**
 * What deploy time and run time must agree on, in one place: the stack
 * (`infra/`) sets these names, the Lambda handlers (`functions/`), the
 * trainer (`containers/trainer/`) and the steps read them. Plain constants —
 * no AWS SDK, nothing heavy — so every side can import this file.
 * `test/infra/contract.test.ts` checks the synthesized template against it.
 */

/** Environment variable names. */
export const ENV = {
  tableExperiments: 'TABLE_EXPERIMENTS',
  tableTrials: 'TABLE_TRIALS',
  artifactsBucket: 'ARTIFACTS_BUCKET',
  experimentsQueueUrl: 'EXPERIMENTS_QUEUE_URL',
  dlqUrl: 'DLQ_URL',
  stateMachineArn: 'STATE_MACHINE_ARN',
  maxRunningExperiments: 'MAX_RUNNING_EXPERIMENTS',
  maxGpus: 'MAX_GPUS',
  monthlyBudgetDollars: 'MONTHLY_BUDGET_DOLLARS',
  /** The experiments queue's `maxReceiveCount`: the scheduler re-sends a waiting message before SQS would dead-letter it. */
  maxReceiveCount: 'MAX_RECEIVE_COUNT',
  /** Comma-separated IAM principal ARNs that may read and stop every experiment (a role ARN covers its sessions). */
  adminPrincipals: 'NASFLOW_ADMIN_PRINCIPALS',
  /** Optional (tests): trials per execution before it continues as new. */
  maxTrialsPerExecution: 'MAX_TRIALS_PER_EXECUTION',
  powertoolsService: 'POWERTOOLS_SERVICE_NAME',
  powertoolsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  /** Trainer: where artifacts live (`s3://bucket`, or a folder). */
  trainerArtifacts: 'NASFLOW_ARTIFACTS',
  /** Trainer: the TensorFlow.js backend (`native` on the GPU image). */
  trainerBackend: 'NASFLOW_BACKEND',
} as const;

/** An environment variable name of the contract. */
export type EnvName = (typeof ENV)[keyof typeof ENV];

/** The Lambda handlers, one file each in `functions/`. */
export const FUNCTION_NAMES = ['api', 'scheduler', 'propose', 'record', 'finalize', 'fail'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

const STORES = [ENV.tableExperiments, ENV.tableTrials, ENV.artifactsBucket] as const;
const CAPS = [ENV.maxRunningExperiments, ENV.maxGpus, ENV.monthlyBudgetDollars] as const;

/**
 * The environment the stack gives each function, beyond Powertools' two:
 * exactly what its handler reads (optional variables, such as
 * `MAX_TRIALS_PER_EXECUTION`, are not set by the stack and not listed).
 */
export const FUNCTION_ENV: { readonly [F in FunctionName]: readonly EnvName[] } = {
  api: [...STORES, ENV.experimentsQueueUrl, ENV.adminPrincipals],
  scheduler: [...STORES, ...CAPS, ENV.experimentsQueueUrl, ENV.dlqUrl, ENV.stateMachineArn, ENV.maxReceiveCount],
  propose: [...STORES, ENV.monthlyBudgetDollars],
  record: [...STORES],
  finalize: [...STORES],
  fail: [ENV.tableExperiments, ENV.tableTrials],
};

/** Variables a handler reads if set, which the stack leaves unset. */
export const OPTIONAL_ENV: readonly EnvName[] = [ENV.maxTrialsPerExecution];

/** CloudWatch metrics: namespace, the `service` dimension, and the names the functions publish and the alarms read. */
export const METRICS = {
  namespace: 'nasflow',
  service: 'nasflow',
  /** Gauge: dollars spent this calendar month (UTC) over all experiments; the budget alarms read it. */
  monthToDateSpend: 'MonthToDateSpendDollars',
  /** Dollars of one settled trial; the daily-spend alarm sums it. */
  trialDollars: 'DollarsSpent',
} as const;

/** Experiment states. QUEUED → RUNNING (→ STOPPING) → COMPLETED | FAILED | STOPPED. */
export const EXPERIMENT_STATES = ['QUEUED', 'RUNNING', 'STOPPING', 'COMPLETED', 'FAILED', 'STOPPED'] as const;
/** Experiment states that hold an admission (count against the account caps). */
export const ACTIVE_EXPERIMENT_STATES = ['RUNNING', 'STOPPING'] as const;
/** Experiment states that never change again. */
export const FINISHED_EXPERIMENT_STATES = ['COMPLETED', 'FAILED', 'STOPPED'] as const;
/** Trial states. PENDING → RUNNING → COMPLETED | FAILED | STOPPED. */
export const TRIAL_STATES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'STOPPED'] as const;
/** Trial states that never change again (but for the scheduler's decision). */
export const FINISHED_TRIAL_STATES = ['COMPLETED', 'FAILED', 'STOPPED'] as const;

/** Artifact keys of a trial: its job file, result, epoch reports, compute used, checkpoint, exported model folder, class probabilities on validation and test (for ensembles). */
export const trialArtifactKeys = (trialId: string) => ({
  trial: `trials/${trialId}/trial.json`,
  result: `trials/${trialId}/result.json`,
  reports: `trials/${trialId}/reports.json`,
  usage: `trials/${trialId}/usage.json`,
  checkpoint: `trials/${trialId}/checkpoint.bin`,
  model: `trials/${trialId}/model`,
  validationPredictions: `trials/${trialId}/predictions/validation.bin`,
  testPredictions: `trials/${trialId}/predictions/test.bin`,
});

/** Artifact keys of an experiment's final report. */
export const experimentArtifactKeys = (experimentId: string) => ({
  report: `experiments/${experimentId}/report.json`,
  leaderboard: `experiments/${experimentId}/leaderboard.json`,
});

/** Where the trainer may write: the job role is granted this prefix of the artifacts bucket. */
export const TRIAL_ARTIFACTS_PREFIX = 'trials/';

/** Tags. */
export const TAGS = {
  /** On every stack resource. */
  project: { key: 'project', value: 'nasflow' },
  /** On every Batch job (and, propagated, its ECS task): the experiment id, for cost allocation. */
  experiment: 'nasflow:experiment',
  /** On every Lambda function: its handler name (`infra/synth.ts` maps it to a placeholder ARN). */
  function: 'nasflow:function',
  /** The S3 object tag of checkpoints; the artifacts bucket's lifecycle rule expires objects carrying it. */
  checkpoint: { key: 'nasflow:kind', value: 'checkpoint' },
} as const;

/** An object tag as S3's `Tagging` request parameter writes it (URL-encoded `key=value`). */
export const s3Tagging = (tag: { readonly key: string; readonly value: string }): string => `${encodeURIComponent(tag.key)}=${encodeURIComponent(tag.value)}`;

/** Exit code of an interrupted trainer (SIGTERM on a spot reclaim; checkpoint written): the job definition retries it. */
export const EXIT_INTERRUPTED = 75;
