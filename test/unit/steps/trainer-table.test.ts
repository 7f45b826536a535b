/**
 * The trainer entrypoint on a table trial, as the Batch state runs it: a
 * real process, trial.json written by the propose step, the simulated time
 * waited out (scaled), SIGTERM → exit 75 with nothing recorded, rerun → 0.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../../containers/trainer/entrypoint.js';
import { submitExperiment } from '../../../shared/steps/submit.js';
import { jobKeys, proposeStep, recordStep } from '../../../shared/steps/index.js';
import { MemoryExperimentStore } from '../../../shared/store/memory.js';
import { FsArtifactStore, getJson } from '../../../shared/train/ports.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../../shared/benchmarks/nb201-cifar10.csv');
const entry = join(import.meta.dirname, '../../../containers/trainer/entrypoint.ts');

function run(trialId: string, env: Record<string, string>, onStart?: (kill: () => void) => void): Promise<number | null> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, '--trial-id', trialId], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('"event":"start"')) onStart?.(() => child.kill('SIGTERM'));
    });
    child.on('error', rej);
    child.on('exit', (code) => res(code));
  });
}

describe('trainer entrypoint, table trials', () => {
  it('answers from the table after the scaled simulated time; SIGTERM exits 75 and the rerun completes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-tjob-'));
    const ports = { store: new MemoryExperimentStore(), artifacts: new FsArtifactStore(dir), now: Date.now };
    const exp = await submitExperiment(
      { name: 't', dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 10 }, space: { kind: 'cell' }, epochs: 200, budget: { trials: 2 }, seed: 1 },
      ports.store,
    );
    const p = await proposeStep(ports, { experimentId: exp.id, slot: 0, generation: 0 });
    if (p.action !== 'train') throw new Error(`expected a trial, got ${JSON.stringify(p)}`);

    // 2,000 simulated seconds × 0.01 = 20 s of waiting: interrupted long before.
    const interrupted = await run(p.trialId, { NASFLOW_ARTIFACTS: dir, NASFLOW_TABLE_TIME_SCALE: '0.01' }, (kill) => setTimeout(kill, 200));
    expect(interrupted).toBe(EXIT.INTERRUPTED);
    expect(await getJson(ports.artifacts, jobKeys(p.trialId).result)).toBeUndefined();

    const code = await run(p.trialId, { NASFLOW_ARTIFACTS: `file://${dir}`, NASFLOW_TABLE_TIME_SCALE: '0.0002' });
    expect(code).toBe(EXIT.COMPLETED);
    const result = await getJson<{ status: string; seconds: number; metrics: Record<string, number> }>(ports.artifacts, jobKeys(p.trialId).result);
    expect(result?.status).toBe('COMPLETED');
    expect(result?.seconds).toBe(2000);
    expect(result?.metrics['val_accuracy']).toBeGreaterThan(0);

    const r = await recordStep(ports, { experimentId: exp.id, trialId: p.trialId, job: { status: 'SUCCEEDED' } });
    expect(r.state).toBe('COMPLETED');
    const t = await ports.store.getTrial(p.trialId);
    expect(t?.cost?.hours).toBeCloseTo(2000 / 3600, 9);
    expect(t?.curve?.map((c) => c.epoch)).toEqual([200]);
    expect(t?.values?.[0]).toBe(result?.metrics['val_accuracy']);
  }, 60_000);
});
