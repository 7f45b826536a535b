/**
 * The search as stateless steps: each reads what it needs from the store and
 * writes what it decided, so it can run in a cold Lambda, be retried, and be
 * resumed. The local runner drives the same `SearchState` in memory.
 */
export { capsCheck, firstTrialDollars, gpusOf, monthToDateDollars, type Caps, type CapsVerdict } from './caps.js';
export { costModelOf, estimatorFor, INITIAL_SECONDS_PER_EPOCH, TrialCostModel, type EstimateSeconds } from './estimate.js';
export { finalizeStep, reportKeys, writeReport, type FinalizeInput, type FinalizeOutput } from './finalize.js';
export { interruptStep, reopenStep, type InterruptInput } from './interrupt.js';
export { inheritanceFor, inheritShare, startEpochOf, type TrialInheritance } from './inherit.js';
export { executionNameOf, jobKeys, jobNameOf, jobResultSchema, trialJob, trialJobSchema, type JobResult, type TrialJob } from './job.js';
export { withExperimentLease, type StepPorts } from './ports.js';
export { deadlineOf, loadSearch, MAX_TRIALS_PER_EXECUTION, proposeStep, type ProposeInput, type ProposeOutput, type StepOptions } from './propose.js';
export { describeJobError, readOutcome, recordStep, type RecordInput, type RecordOutput } from './record.js';
export { budgetFor, limitsOf, repairFinished, SearchState, type DoneReason, type SnapshotEnvelope } from './state.js';
export type { TrialOutcome } from '../experiment/outcome.js';
export { requestStop } from './stop.js';
export { newExperimentId, submitExperiment } from './submit.js';
