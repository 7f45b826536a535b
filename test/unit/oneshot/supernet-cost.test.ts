/**
 * The supernet trial's reservation is priced from the work its job does
 * (supernetEpochs passes over its data fraction along sampled paths, the
 * scoring of its candidates), through the steps every driver calls: a cold
 * propose (as a Lambda runs it) reserves it in the ledger.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../shared/errors.js';
import { isSupernetArch, supernetArch } from '../../../shared/oneshot/finalists.js';
import { Rng } from '../../../shared/rng.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { costModelOf, proposeStep, type StepPorts } from '../../../shared/steps/index.js';
import { submitExperiment } from '../../../shared/steps/submit.js';
import { MemoryExperimentStore } from '../../../shared/store/memory.js';
import { FsArtifactStore } from '../../../shared/train/ports.js';

const space = { kind: 'cell', channels: 8, stages: 3, cellsPerStage: 1 };
const spec = (options: Record<string, number>) => ({ name: 'oneshot-cost', dataset: { source: 'fashion-mnist', validation: 0.1 }, space, epochs: 3, budget: { hours: 10_000 }, seed: 5, strategy: { name: 'oneshot', options } });

/** The ledger's reservation of the supernet trial that a search's first propose starts. */
async function supernetReservation(options: Record<string, number>): Promise<number> {
  const ports: StepPorts = { store: new MemoryExperimentStore(), artifacts: new FsArtifactStore(mkdtempSync(join(tmpdir(), 'nasflow-supernet-cost-'))), now: Date.now };
  const exp = await submitExperiment(spec(options), ports.store);
  const out = await proposeStep(ports, { experimentId: exp.id, slot: 0, generation: 0 });
  if (out.action !== 'train') throw new Error(`expected the supernet trial, got ${JSON.stringify(out)}`);
  const trial = await ports.store.getTrial(out.trialId);
  expect(trial && isSupernetArch(trial.arch)).toBe(true);
  return (await ports.store.getReservation(out.trialId))!.reserved.hours * 3600;
}

describe("the supernet trial's reservation", () => {
  it('scales with supernetEpochs, with FairNAS sampling, and with the candidates scored', async () => {
    const base = { candidates: 1 };
    const two = await supernetReservation({ ...base, supernetEpochs: 2 });
    const eight = await supernetReservation({ ...base, supernetEpochs: 8 });
    // Scoring one candidate is a few per cent of 2 epochs: 8 epochs cost a little under 4× 2 epochs.
    expect(eight / two).toBeGreaterThan(3.6);
    expect(eight / two).toBeLessThanOrEqual(4);
    // FairNAS trains all 5 ops of an edge per batch: about 5× the training.
    const fair = await supernetReservation({ ...base, supernetEpochs: 2, fair: 1 });
    expect(fair / two).toBeGreaterThan(4.3);
    expect(fair / two).toBeLessThanOrEqual(5);
    // 2,000 candidates are 2,000 validation passes (6,000 images each): they dominate 2 epochs (54,000 images each).
    const many = await supernetReservation({ ...base, supernetEpochs: 2, candidates: 2000 });
    expect(many / two).toBeGreaterThan(5);
  });

  it('is close to the sum of its parts, each priced as ordinary trials of the sampled paths', async () => {
    const o = { supernetEpochs: 4, dataFraction: 0.25, candidates: 300, calibrationBatches: 4 };
    const reserved = await supernetReservation(o);
    // The parts, from the estimate of ordinary trials (one epoch on the supernet's data fraction) of 400 uniformly sampled paths.
    const plain = parseExperimentSpec({ ...spec({}), dataset: { source: 'fashion-mnist', validation: 0.1, fraction: o.dataFraction }, strategy: 'random' });
    const model = costModelOf(plain);
    const rng = Rng.seeded(99);
    let train = 0;
    let validation = 0;
    const n = 400;
    for (let i = 0; i < n; i++) {
      const b = model.breakdown(1, plain.compiledSpace.sample(rng), 1);
      train += b.train / n;
      validation += b.validation / n;
    }
    // A candidate's scoring: a validation pass (6,000 images) and its recalibration (4 batches of 128 images), forward.
    const expected = o.supernetEpochs * train + o.candidates * validation * ((6000 + 4 * 128) / 6000);
    // The ledger reserves twice the estimate; the sampled paths differ (64 against 400), hence the tolerance.
    expect(reserved / (2 * expected)).toBeGreaterThan(0.85);
    expect(reserved / (2 * expected)).toBeLessThan(1.15);
  });

  it('a budget that pays for a finalist but not the supernet is refused at submission, naming budget.minutes and the supernet', async () => {
    const raw = spec({ supernetEpochs: 8 });
    const parsed = parseExperimentSpec(raw);
    const model = costModelOf(parsed);
    const ordinary = model.estimateSeconds(3);
    const supernet = model.estimateSeconds(3, supernetArch(parsed.compiledSpace), 3);
    expect(supernet).toBeGreaterThan(4 * ordinary);
    const minutes = (2 * ordinary) / 60;
    const refused = await submitExperiment({ ...raw, budget: { minutes } }, new MemoryExperimentStore(), { estimateSeconds: model.estimateSeconds }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SpecError);
    expect((refused as SpecError).issues.map((i) => `${i.path}: ${i.message}`).join()).toMatch(/budget\.minutes: too small for one trial: the supernet trial \(strategy oneshot: 8 supernet epochs/);
  });
});
