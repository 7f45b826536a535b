/**
 * A worker thread of `nasflow serve` (see `serve-preflight.ts`): runs the
 * checks `nasflow search` makes on a spec before storing it — its data
 * files, sample model builds for the data's input shape, and the
 * evaluator's estimate of a trial, which loads a table — so that the
 * server's event loop never reads a data file.
 * Posts one `PreflightAnswer` and is then terminated.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { evaluatorFor } from './search.js';
import { DataError, SpecError, type SpecIssue } from '../shared/errors.js';
import { fidelityOf, parseExperimentSpec, type ExperimentSpec } from '../shared/spec/experiment.js';
import { datasetFileIssues, unbuildableSpace } from '../shared/spec/preflight.js';

/** What the server sends: the raw spec and the store's home folder. */
export interface PreflightInput {
  readonly spec: unknown;
  readonly home: string;
}

/** What the worker answers: the estimated seconds of a trial per rung, or the spec's problems. */
export type PreflightAnswer =
  | { readonly ok: true; readonly estimates: readonly (readonly [number, number])[] }
  | { readonly ok: false; readonly issues: readonly SpecIssue[] };

/** The field a data error is about: the file the source reads first. */
function dataField(spec: ExperimentSpec): string {
  return spec.dataset.source === 'idx' ? 'dataset.images' : 'dataset.path';
}

async function check({ spec: raw, home }: PreflightInput): Promise<PreflightAnswer> {
  let spec: ExperimentSpec | undefined;
  try {
    spec = parseExperimentSpec(raw);
    const files = datasetFileIssues(spec);
    if (files.length) return { ok: false, issues: files };
    const unbuildable = await unbuildableSpace(spec);
    if (unbuildable.length) return { ok: false, issues: unbuildable };
    const evaluator = evaluatorFor(spec, home, spec.parallel ?? 1);
    try {
      return { ok: true, estimates: fidelityOf(spec).rungs.map((r) => [r, evaluator.estimateSeconds(r)] as const) };
    } finally {
      await evaluator.close();
    }
  } catch (e) {
    if (e instanceof SpecError) return { ok: false, issues: e.issues };
    if (e instanceof DataError) return { ok: false, issues: [{ path: spec ? dataField(spec) : 'dataset', message: e.message }] };
    throw e;
  }
}

parentPort?.postMessage(await check(workerData as PreflightInput));
