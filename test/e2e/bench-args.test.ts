/** The bench scripts' command lines as a user meets them (bench/args.ts): `--help` prints the usage; a mistake is refused with exit 2 and no stack trace. */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `bench/<script>.ts` as `npx tsx` does; asynchronous, so that the runs of a test overlap. */
function bench(script: string, args: string[]): Promise<Run> {
  return new Promise((ok, fail) => {
    // No table from the environment: the parse must fail or answer before any check of its own.
    const env = { ...process.env, NASFLOW_BENCH_TABLE: '' };
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', `${script}.ts`), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', fail);
    child.on('close', (status) => ok({ status, stdout, stderr }));
  });
}

const SCRIPTS = ['deadline', 'transfer', 'proposal-cost'];

describe('bench scripts: arguments', () => {
  it('--help prints the script’s usage on stdout and exits 0', async () => {
    const runs = await Promise.all(SCRIPTS.map((s) => bench(s, ['--help'])));
    runs.forEach((r, i) => {
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^usage:\n/);
      // Each script's own usage line, naming one of its own options.
      expect(r.stdout).toContain(['--first-seed', '--source-trials', '--histories'][i]);
      expect(r.stderr).toBe('');
    });
  }, 60_000);

  it('an unknown option or a value that is not a number: one line naming it, the usage, exit 2, no stack trace', async () => {
    const runs = await Promise.all([...SCRIPTS.map((s) => bench(s, ['--bogus'])), bench('deadline', ['--seeds', 'ten'])]);
    for (const r of runs) {
      expect(r.status, `${r.stderr}${r.stdout}`).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr).toContain('\nusage:\n');
      expect(r.stdout).toBe('');
    }
    for (const r of runs.slice(0, SCRIPTS.length)) expect(r.stderr.split('\n')[0]).toMatch(/: unknown option --bogus \(expected one of --.*--help\)$/);
    expect(runs[SCRIPTS.length]!.stderr.split('\n')[0]).toBe('bench/deadline: --seeds: expected a number, got "ten"');
  }, 60_000);
});
