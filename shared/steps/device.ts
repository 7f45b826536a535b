/**
 * The device step: a spec's `device` is measured once, before the search's
 * first proposal — `measure` architectures built and timed on the runtime,
 * the latency model fitted on them (shared/latency/device.ts) — and the
 * calibration is stored on the experiment. Every later step, in any process
 * and after a resume, predicts `latency_ms` from it without measuring again.
 * Called from `propose`, so every driver gets it; a runtime that cannot run
 * where propose runs (Chromium inside a Lambda) fails with an error on
 * `device.runtime`.
 */
import { SpecError } from '../errors.js';
import type { Experiment } from '../experiment/model.js';
import type { ExperimentSpec } from '../spec/experiment.js';
import { deviceInput } from './preflight.js';
import type { StepPorts } from './ports.js';

/**
 * The experiment with its device measured: as it is when the spec names no
 * device or the calibration is stored already; else measured now and stored
 * (under the caller's lease `owner`).
 */
export async function ensureDeviceMeasured(ports: StepPorts, exp: Experiment, spec: ExperimentSpec, owner: string): Promise<Experiment> {
  if (!spec.device || exp.device) return exp;
  const input = deviceInput(spec);
  if (!input) throw new SpecError([{ path: 'device', message: 'cannot measure: the dataset files are not readable where the search proposes, so the models\' input shape is unknown' }]);
  // TensorFlow.js (and Chromium's driver) load only for a spec that names a device.
  const { measureDevice } = await import('../latency/measure.js');
  const device = await measureDevice(spec, input, () => new Date(ports.now()));
  const stored = await ports.store.updateExperiment(exp.id, { device }, { leaseOwner: owner });
  // A warm state built before the measurement knows no device latency: rebuild it.
  if (ports.warm?.experimentId === exp.id) ports.warm.drop();
  return stored;
}
