/**
 * Trials between stores: `nasflow export --trials` writes an experiment and
 * its finished trials as one JSON document; `nasflow import` stores them in
 * another store under the same experiment id, FINISHED, so a search there can
 * name it in `warmStart.experiments`. Only finished trials travel (a running
 * one has no result to learn from), in the order they finished.
 */
import { z } from 'zod';
import { DataError, SpecError } from '../errors.js';
import { FINISHED_STATES, type Experiment, type Trial } from '../experiment/model.js';
import { parseExperimentSpec } from '../spec/experiment.js';
import { zodIssues } from '../space/spec.js';
import { listAllTrials, type ExperimentStore } from '../store/experiment-store.js';

/** The document's format tag and version. */
export const TRIALS_FORMAT = 'nasflow-trials/1';

/** An exported experiment: its spec and its finished trials. */
export interface TrialsDocument {
  readonly format: typeof TRIALS_FORMAT;
  readonly experiment: { readonly id: string; readonly name: string; readonly spec: unknown; readonly createdAt: string };
  readonly trials: readonly Trial[];
}

const trialSchema = z
  .object({
    id: z.string().min(1),
    seq: z.int().positive(),
    arch: z.object({ values: z.record(z.string(), z.unknown()) }),
    hash: z.string().min(1),
    state: z.enum(['COMPLETED', 'FAILED', 'STOPPED']),
    fidelity: z.number().positive(),
  })
  .loose();

const documentSchema = z
  .object({
    format: z.literal(TRIALS_FORMAT, { error: `expected "${TRIALS_FORMAT}" (a file written by nasflow export --trials)` }),
    experiment: z.object({ id: z.string().min(1), name: z.string().min(1), spec: z.unknown(), createdAt: z.string() }).loose(),
    trials: z.array(trialSchema),
  })
  .loose();

/** The export document of experiment `id`: its spec and finished trials in finishing order. */
export async function exportTrials(store: ExperimentStore, exp: Experiment): Promise<TrialsDocument> {
  const trials = (await listAllTrials(store, exp.id)).filter((t) => FINISHED_STATES.includes(t.state)).sort((a, b) => (a.finishedSeq ?? 0) - (b.finishedSeq ?? 0));
  return { format: TRIALS_FORMAT, experiment: { id: exp.id, name: exp.name, spec: exp.spec, createdAt: exp.createdAt }, trials };
}

/**
 * Stores an exported experiment and its trials (parsed here: a bad document
 * is a SpecError naming the field, and nothing is written). The experiment
 * arrives COMPLETED; an id already in the store is a DataError.
 */
export async function importTrials(store: ExperimentStore, raw: unknown): Promise<{ experimentId: string; trials: number }> {
  const r = documentSchema.safeParse(raw, { reportInput: true });
  if (!r.success) throw new SpecError(zodIssues(r.error), 'trials file');
  const doc = r.data;
  const spec = parseExperimentSpec(doc.experiment.spec);
  const id = doc.experiment.id;
  const trials = doc.trials as unknown as Trial[];
  trials.forEach((t, i) => {
    try {
      spec.compiledSpace.parseArchitecture(t.arch);
    } catch (e) {
      if (e instanceof SpecError) throw new SpecError(e.issues.map((x) => ({ path: `trials[${i}].arch.${x.path}`, message: x.message })), 'trials file');
      throw e;
    }
  });
  if (await store.getExperiment(id)) throw new DataError(`experiment "${id}" is already in this store`);
  await store.createExperiment({ id, name: doc.experiment.name, spec: doc.experiment.spec, state: 'COMPLETED', createdAt: doc.experiment.createdAt, reason: 'imported (nasflow import)' });
  for (const t of trials) {
    const { finishedSeq: _seq, ...rest } = t;
    await store.createTrial({ ...rest, experimentId: id });
  }
  return { experimentId: id, trials: trials.length };
}
