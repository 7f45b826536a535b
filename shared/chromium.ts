/**
 * Which Chromium nasflow drives — the report's screenshot
 * (shared/report/screenshot.ts) and latency measured in a browser
 * (shared/latency/chromium.ts) — found by one rule, so that the two never
 * disagree about the same machine.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { DataError } from './errors.js';

/** The environment variable that names the Chromium to use. */
export const CHROMIUM_ENV = 'NASFLOW_CHROMIUM';

/** Where an installed Chromium is looked for, in order, when `NASFLOW_CHROMIUM` is unset: Debian's first. */
export const CHROMIUM_CANDIDATES: readonly string[] = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

const isExecutableFile = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/**
 * The Chromium executable to drive: `NASFLOW_CHROMIUM` when it is set, else
 * the first of {@link CHROMIUM_CANDIDATES} installed, else undefined (no
 * Chromium here: each caller says what it does without one). A
 * `NASFLOW_CHROMIUM` that names no executable file is the user's mistake and
 * throws a DataError naming it — falling back to another Chromium would
 * measure or draw with a browser the user did not choose.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const chosen = env[CHROMIUM_ENV];
  if (chosen !== undefined && chosen !== '') {
    if (!isExecutableFile(chosen)) throw new DataError(`no Chromium at ${chosen}, the path ${CHROMIUM_ENV} names (expected a Chromium executable; unset ${CHROMIUM_ENV} to use an installed one)`);
    return chosen;
  }
  return CHROMIUM_CANDIDATES.find(isExecutableFile);
}
