/**
 * Commands that act on stored experiments (list, status, report, export,
 * stop, resume) never create a store: a `--home` (or NASFLOW_HOME) that
 * does not exist or holds no store is refused naming it, and nothing is
 * written there. The real CLI, as a child process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';
import { bundledCli } from '../support/bundled-cli.js';

const COMMANDS = [['list'], ['status'], ['report'], ['export'], ['stop'], ['resume']];

let cli: { cmd: string[]; dir: string };
const dir = mkdtempSync(join(tmpdir(), 'nasflow-cli-home-'));
beforeAll(async () => void (cli = await bundledCli('nasflow-cli-home')), 60_000);
afterAll(() => {
  rmSync(cli.dir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

function nasflow(args: string[], env: Record<string, string> = {}) {
  const { NASFLOW_HOME: _h, ...rest } = process.env;
  return spawnSync(process.execPath, [...cli.cmd, ...args], { cwd: dir, encoding: 'utf8', env: { ...rest, ...env }, timeout: 60_000 });
}

/** Exit 2, one line naming what is wrong, no stack trace. */
function expectRefused(r: ReturnType<typeof nasflow>, message: RegExp) {
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('a home that holds no store is refused by the commands that read one, and nothing is created', () => {
  it('--home that does not exist: every command names --home and the path, and the folder is not made', () => {
    const home = join(dir, 'typo', 'nested');
    for (const args of COMMANDS) {
      const r = nasflow([...args, '--home', home]);
      expectRefused(r, new RegExp(`--home ${home.replace(/[/.]/g, '\\$&')}: no such folder; nasflow ${args[0]} reads an existing store and creates nothing`));
      expect(existsSync(join(dir, 'typo')), `${args[0]} created the home`).toBe(false);
    }
  }, 120_000);

  it('NASFLOW_HOME that does not exist is named as NASFLOW_HOME; the default ./.nasflow as the default', () => {
    const home = join(dir, 'env-home');
    expectRefused(nasflow(['status'], { NASFLOW_HOME: home }), /^nasflow: NASFLOW_HOME .*env-home: no such folder/);
    expect(existsSync(home)).toBe(false);
    expectRefused(nasflow(['list']), /--home .*\.nasflow \(the default, \.\/\.nasflow\): no such folder/);
    expect(existsSync(join(dir, '.nasflow'))).toBe(false);
  }, 60_000);

  it('a folder without nasflow.db: refused, and still empty afterwards', () => {
    const home = join(dir, 'empty');
    mkdirSync(home);
    for (const args of [['list'], ['status', '--json']]) expectRefused(nasflow([...args, '--home', home]), /--home .*empty: no nasflow store in this folder \(no nasflow\.db\)/);
    expect(readdirSync(home)).toEqual([]);
  }, 60_000);

  it('an existing store is read as before', async () => {
    const home = join(dir, 'store');
    const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
    await store.close();
    const r = nasflow(['list', '--home', home]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/no experiments yet/);
  }, 60_000);
});
