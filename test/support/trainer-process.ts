/** The trainer container's entrypoint run as a real Node process, its JSON log lines collected (tests that kill or signal it mid-run). */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const entry = join(import.meta.dirname, '../../containers/trainer/entrypoint.ts');

/** How a run of the entrypoint ended, and every JSON line it logged. */
export interface TrainerRun {
  code: number | null;
  lines: Array<Record<string, unknown>>;
}

/** Runs the entrypoint with `args` on the wasm backend; `onLine` sees each JSON log line and may signal the child. */
export function runTrainer(args: string[], env: Record<string, string>, onLine?: (line: Record<string, unknown>, child: ChildProcess) => void): Promise<TrainerRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { env: { ...process.env, NASFLOW_BACKEND: 'wasm', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Array<Record<string, unknown>> = [];
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const line = JSON.parse(text) as Record<string, unknown>;
          lines.push(line);
          onLine?.(line, child);
        } catch {
          // not one of ours
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, lines }));
  });
}
