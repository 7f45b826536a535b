import { describe, expect, it } from 'vitest';
import type { Objective } from '../../../shared/objectives/objectives.js';
import {
  estimateEta,
  formatStatusBlock,
  formatStatusLine,
  formatTrialLine,
  ProgressDisplay,
  progressSnapshot,
  type ProgressSnapshot,
  type ProgressStream,
} from '../../../shared/report/progress.js';
import { experiment, T0, trial } from './fixtures.js';

const ACC: Objective[] = [{ metric: 'val_accuracy', goal: 'max' }];

function snapshotAt(seconds: number): ProgressSnapshot {
  const exp = experiment({ state: 'RUNNING', finishedAt: undefined, spent: { trials: 10, hours: 0.05, dollars: 0 } });
  const trials = [
    ...Array.from({ length: 8 }, (_, i) => trial(i + 1, { metrics: { val_accuracy: 0.9 + i / 100 } })),
    trial(9, { state: 'FAILED', reason: 'out of memory' }),
    trial(10, { state: 'STOPPED', metrics: { val_accuracy: 0.999 } }),
    trial(11, { state: 'RUNNING' }),
    trial(12, { state: 'RUNNING' }),
  ];
  return progressSnapshot(exp, trials, { objectives: ACC, limits: { trials: 40, hours: 0.25 }, nowMs: T0 + seconds * 1000 });
}

class Sink implements ProgressStream {
  out = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 100,
  ) {}
  write(chunk: string): boolean {
    this.out += chunk;
    return true;
  }
}

describe('progress formatting', () => {
  it('counts trials, finds the best feasible completed one and extrapolates the ETA from the binding limit', () => {
    const s = snapshotAt(600);

    expect(s).toMatchObject({ done: 10, running: 2, failed: 1, stopped: 1, elapsedSeconds: 600 });
    expect(s.best).toEqual({ metric: 'val_accuracy', goal: 'max', value: 0.97, trialId: 'exp-1/t0008' });
    // trials: 30 more at 10 per 600 s = 1800 s; hours: 0.2 more at 0.05 per 600 s = 2400 s.
    expect(s.etaSeconds).toBeCloseTo(1800, 6);
  });

  it('takes the wall-clock limit when it comes first, and has no ETA without limits or progress', () => {
    expect(estimateEta({ trials: 1, hours: 0.01, dollars: 0 }, { trials: 100, wallClockSeconds: 900 }, 600)).toBe(300);
    expect(estimateEta({ trials: 0, hours: 0, dollars: 0 }, { trials: 100 }, 0)).toBeUndefined();
    expect(estimateEta({ trials: 5, hours: 0, dollars: 0 }, {}, 60)).toBeUndefined();
    expect(estimateEta({ trials: 40, hours: 0, dollars: 0 }, { trials: 40 }, 60)).toBe(0);
  });

  it('formats a status block that fits the terminal width', () => {
    const lines = formatStatusBlock(snapshotAt(600), 100);

    expect(lines.join('\n')).toBe(
      [
        'nasflow · mnist-small-cnn  ██████░░░░░░░░░░░░░░░░░░ 25%',
        '  trials   10/40 done · 2 running · 1 failed · 1 stopped',
        '  best     val_accuracy 0.97 (t0008)',
        '  budget   3min/15min compute',
        '  time     10m00s elapsed · ETA 30m00s',
      ].join('\n'),
    );
    expect(formatStatusBlock(snapshotAt(600), 30).every((l) => l.length <= 30)).toBe(true);
  });

  it('formats one timestamped status line and one line per finished trial', () => {
    expect(formatStatusLine(snapshotAt(600), T0 + 600_000)).toBe(
      '2025-03-01T10:10:00.000Z 10/40 done, 2 running, 1 failed; best val_accuracy=0.97; 3min/15min compute; elapsed 10m00s, ETA 30m00s',
    );
    expect(formatTrialLine(trial(3, { metrics: { val_accuracy: 0.9812 } }), ACC)).toBe('t0003 COMPLETED val_accuracy=0.9812 fidelity 3');
    expect(formatTrialLine(trial(4, { state: 'FAILED', reason: 'NaN loss' }), ACC)).toBe('t0004 FAILED (fidelity 3): NaN loss');
    expect(formatTrialLine(trial(5, { state: 'STOPPED', fidelity: 1, metrics: { val_accuracy: 0.5 }, reason: 'median rule' }), ACC)).toBe(
      't0005 STOPPED val_accuracy=0.5 fidelity 1 (stopped: median rule)',
    );
  });
});

describe('ProgressDisplay', () => {
  it('redraws the status block in place on a TTY, with finished trials scrolling above it', () => {
    let now = T0 + 600_000;
    const sink = new Sink(true);
    const display = new ProgressDisplay(sink, { objectives: ACC, now: () => now });

    display.update(snapshotAt(600));
    const first = sink.out;
    now += 1000;
    display.trialFinished(trial(13, { metrics: { val_accuracy: 0.95 } }), snapshotAt(601));
    now += 1000;
    display.update(snapshotAt(602));

    expect(first).not.toContain('\u001b[');
    expect(first.split('\n')).toHaveLength(6); // five lines and the final newline
    const after = sink.out.slice(first.length);
    // Each redraw moves up over the five drawn lines and clears them.
    expect(after.split('\u001b[5F\u001b[0J').length - 1).toBe(2);
    expect(after).toContain('10:10:01 t0013 COMPLETED val_accuracy=0.95 fidelity 3\n');
    expect(after.endsWith('  time     10m02s elapsed · ETA 30m06s\n')).toBe(true);
  });

  it('skips redraws that come too close together', () => {
    let now = T0;
    const sink = new Sink(true);
    const display = new ProgressDisplay(sink, { objectives: ACC, now: () => now, minRedrawMs: 500 });

    display.update(snapshotAt(600));
    now += 100;
    display.update(snapshotAt(600));
    const afterSkipped = sink.out.length;
    now += 500;
    display.update(snapshotAt(601));

    expect(afterSkipped).toBe(formatStatusBlock(snapshotAt(600), 100).join('\n').length + 1);
    expect(sink.out.length).toBeGreaterThan(afterSkipped);
  });

  it('writes plain timestamped lines without escape codes when not a TTY', () => {
    let now = T0 + 600_000;
    const sink = new Sink(false);
    const display = new ProgressDisplay(sink, { objectives: ACC, now: () => now, statusEveryMs: 60_000 });

    display.update(snapshotAt(600)); // too soon for a status line
    display.trialFinished(trial(13, { metrics: { val_accuracy: 0.95 } }));
    now += 61_000;
    display.update(snapshotAt(661)); // a minute later: one status line
    display.close(snapshotAt(661));

    const lines = sink.out.trimEnd().split('\n');
    expect(sink.out).not.toContain('\u001b');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('2025-03-01T10:10:00.000Z t0013 COMPLETED val_accuracy=0.95 fidelity 3');
    expect(lines[1]).toMatch(/^2025-03-01T10:11:01\.000Z 10\/40 done, 2 running/);
    expect(lines[2]).toBe(lines[1]);
  });
});
