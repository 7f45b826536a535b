import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../../containers/trainer/entrypoint.js';
import { decodeFinalists } from '../../../shared/oneshot/finalists.js';
import { Space } from '../../../shared/space/space.js';
import type { SupernetJob } from '../../../shared/steps/supernet.js';
import { FsArtifactStore, getJson, putJson, type EpochReport } from '../../../shared/train/ports.js';
import type { TrialResult } from '../../../shared/train/trainer.js';
import { runTrainer } from '../../support/trainer-process.js';


const space = { kind: 'cell', channels: 4, stages: 1, cellsPerStage: 1, batchSize: 32 };
const job: SupernetJob = {
  id: 'sn',
  kind: 'supernet',
  space,
  data: { source: 'mnist', fraction: 0.015, validation: 0.005, seed: 3 },
  epochs: 4,
  candidates: 8,
  finalists: 2,
  seed: 1,
};

describe('supernet job in the trainer container', () => {
  it('killed with SIGKILL after epoch 2, the rerun continues from its checkpoint (it does not restart) and reports finalists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-supernet-'));
    const store = new FsArtifactStore(dir);
    await putJson(store, 'trials/sn/trial.json', job);
    const first = await runTrainer(['--trial-id', 'sn'], { NASFLOW_ARTIFACTS: dir }, (line, child) => {
      if (line['event'] === 'epoch' && line['epoch'] === 2) child.kill('SIGKILL');
    });
    expect(first.code).toBeNull();
    expect(await store.get('trials/sn/checkpoint.bin')).toBeDefined();
    expect(await store.get('trials/sn/result.json')).toBeUndefined();

    const second = await runTrainer(['--trial-id', 'sn'], { NASFLOW_ARTIFACTS: dir });
    expect(second.code).toBe(EXIT.COMPLETED);
    const resumed = second.lines.filter((l) => l['event'] === 'epoch').map((l) => l['epoch']);
    // Only what was left: epochs 3 and 4 (or 4 alone, had epoch 3's checkpoint landed before the kill).
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed).not.toContain(1);
    expect(resumed).not.toContain(2);
    expect(resumed[resumed.length - 1]).toBe(4);
    const reports = (await getJson<EpochReport[]>(store, 'trials/sn/reports.json'))!;
    expect(new Set(reports.map((r) => r.epoch)).size).toBe(reports.length);
    const result = (await getJson<TrialResult>(store, 'trials/sn/result.json'))!;
    expect(result.status).toBe('COMPLETED');
    expect(result.epochsCompleted).toBe(4);
    const finalists = decodeFinalists(Space.fromSpec(space), result.metrics);
    expect(finalists).toHaveLength(2);
    expect(result.metrics['oneshot.scored']).toBe(8);
  }, 180_000);
});
