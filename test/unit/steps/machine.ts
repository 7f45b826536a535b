/**
 * Test support: drives the steps the way the state machine does (a Map of
 * worker slots, each looping propose → train → record; then finalize, and
 * continue-as-new), with the table trainer job run in-process.
 */
import { runTableJob } from '../../../containers/trainer/table-job.js';
import { finalizeStep, proposeStep, recordStep, type FinalizeOutput, type RecordInput, type StepOptions, type StepPorts } from '../../../shared/steps/index.js';
import { tableJobSchema } from '../../../shared/steps/job.js';
import { getJson } from '../../../shared/train/ports.js';

export type Trainer = (trialId: string) => Promise<Pick<RecordInput, 'job' | 'jobError'>>;

/** The table job, run in-process: the Batch state's success output. */
export const tableTrainer = (ports: StepPorts): Trainer => async (trialId) => {
  const job = tableJobSchema.parse(await getJson<unknown>(ports.artifacts, `trials/${trialId}/trial.json`));
  await runTableJob(job, ports.artifacts);
  return { job: { status: 'SUCCEEDED' } };
};

export interface MachineRun {
  readonly final: FinalizeOutput;
  readonly generations: number;
  readonly calls: { propose: number; record: number; finalize: number; jobs: number };
  /** Trial ids in the order the slots proposed them. */
  readonly proposed: string[];
}

export async function runMachine(
  ports: StepPorts,
  experimentId: string,
  o: StepOptions & { readonly slots: readonly number[]; readonly trainer?: Trainer; readonly afterRecord?: (trialId: string) => Promise<void> },
): Promise<MachineRun> {
  const trainer = o.trainer ?? tableTrainer(ports);
  const calls = { propose: 0, record: 0, finalize: 0, jobs: 0 };
  const proposed: string[] = [];
  let generation = 0;
  for (let g = 0; ; g++) {
    await Promise.all(
      o.slots.map(async (slot) => {
        for (;;) {
          calls.propose++;
          const p = await proposeStep(ports, { experimentId, slot, generation }, o);
          if (p.action === 'done') return;
          proposed.push(p.trialId);
          calls.jobs++;
          const out = await trainer(p.trialId);
          calls.record++;
          await recordStep(ports, { experimentId, trialId: p.trialId, ...out }, o);
          await o.afterRecord?.(p.trialId);
        }
      }),
    );
    calls.finalize++;
    const final = await finalizeStep(ports, { experimentId, generation, slots: o.slots }, o);
    if (final.action === 'done') return { final, generations: g + 1, calls, proposed };
    generation = final.generation;
  }
}
