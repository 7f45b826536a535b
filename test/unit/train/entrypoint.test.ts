import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../../containers/trainer/entrypoint.js';
import { FsArtifactStore, getJson, putJson, type EpochReport } from '../../../shared/train/ports.js';
import type { TrialResult, TrialSpec } from '../../../shared/train/trainer.js';
import { DEFAULT_TRAINING } from '../../../shared/space/network.js';
import { runTrainer } from '../../support/trainer-process.js';


async function setup(trial: Omit<TrialSpec, 'id'>, id = 'job1'): Promise<{ dir: string; store: FsArtifactStore }> {
  const dir = mkdtempSync(join(tmpdir(), 'nasflow-job-'));
  const store = new FsArtifactStore(dir);
  await putJson(store, `trials/${id}/trial.json`, { id, ...trial });
  return { dir, store };
}

const cnnTrial: Omit<TrialSpec, 'id'> = {
  network: {
    kind: 'chain',
    layers: [{ type: 'conv2d', width: 8, kernel: 3 }, { type: 'maxpool', kernel: 2 }],
    training: { ...DEFAULT_TRAINING, batchSize: 32 },
  },
  data: { source: 'mnist', fraction: 0.08, validation: 0.05, seed: 2 },
  epochs: 3,
  seed: 1,
};

describe('trainer entrypoint as a process', () => {
  it('SIGTERM checkpoints and exits 75 (retryable); the rerun resumes and completes with exit 0', async () => {
    const { dir, store } = await setup(cnnTrial);
    let signalled = false;
    const first = await runTrainer(['--trial-id', 'job1'], { NASFLOW_ARTIFACTS: dir }, (line, child) => {
      if (line['event'] === 'epoch' && !signalled) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    expect(first.code).toBe(EXIT.INTERRUPTED);
    expect(await store.get('trials/job1/checkpoint.bin')).toBeDefined();
    expect(await store.get('trials/job1/result.json')).toBeUndefined();

    const second = await runTrainer([], { NASFLOW_ARTIFACTS: dir, NASFLOW_TRIAL_ID: 'job1' });
    expect(second.code).toBe(EXIT.COMPLETED);
    const result = (await getJson<TrialResult>(store, 'trials/job1/result.json'))!;
    expect(result.status).toBe('COMPLETED');
    expect(result.epochsCompleted).toBe(3);
    expect(result.backend).toBe('wasm');
    const reports = (await getJson<EpochReport[]>(store, 'trials/job1/reports.json'))!;
    expect(reports.map((r) => r.epoch)).toEqual([1, 2, 3]);
    // The resumed run trained only what was left: it reported epochs 2 and 3 (or 3, if the signal came late in epoch 2).
    const resumed = second.lines.filter((l) => l['event'] === 'epoch').map((l) => l['epoch']);
    expect(resumed[resumed.length - 1]).toBe(3);
    expect(resumed).not.toContain(1);
    expect(await store.list('trials/job1/model/')).toEqual(['trials/job1/model/model.json', 'trials/job1/model/weights.bin']);
  }, 120_000);

  it('a trial that fails for good exits 1 with its result written', async () => {
    const { dir, store } = await setup({ ...cnnTrial, maxMemoryBytes: 1000 }, 'big');
    const r = await runTrainer(['big'], { NASFLOW_ARTIFACTS: dir });
    expect(r.code).toBe(EXIT.FAILED);
    const result = (await getJson<TrialResult>(store, 'trials/big/result.json'))!;
    expect(result.status).toBe('FAILED');
    expect(result.reason).toMatch(/^too_large/);
  }, 60_000);

  it('a missing trial or bad arguments exit 2 naming the problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-job-'));
    const missing = await runTrainer(['--trial-id', 'nope'], { NASFLOW_ARTIFACTS: dir });
    expect(missing.code).toBe(EXIT.INVALID);
    expect(String(missing.lines.find((l) => l['event'] === 'invalid')?.['error'])).toMatch(/trials\/nope\/trial\.json not found/);
    const bad = await runTrainer(['--trial-id', '../etc'], { NASFLOW_ARTIFACTS: dir });
    expect(bad.code).toBe(EXIT.INVALID);
    const { dir: d2 } = await setup({ ...cnnTrial, epochs: 0 }, 'zero');
    const invalid = await runTrainer(['zero'], { NASFLOW_ARTIFACTS: d2 });
    expect(invalid.code).toBe(EXIT.INVALID);
    expect(String(invalid.lines.find((l) => l['event'] === 'invalid')?.['error'])).toMatch(/epochs/);
  }, 60_000);
});
