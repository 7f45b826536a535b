/**
 * A PNG of an HTML report through headless Chromium, for the report's own
 * visual check and for anyone who wants a picture of a search in CI logs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findChromium } from '../chromium.js';
import { NasError } from '../errors.js';

/** Screenshots `htmlFile` into `pngFile`; returns the PNG's size in bytes. */
export function screenshot(htmlFile: string, pngFile: string, options: { chromium?: string; width?: number; height?: number; timeoutMs?: number } = {}): number {
  const chromium = options.chromium ?? findChromium();
  if (!chromium) throw new NasError('no chromium found (Debian package "chromium", or set NASFLOW_CHROMIUM)');
  const profile = mkdtempSync(join(tmpdir(), 'nasflow-chromium-'));
  try {
    execFileSync(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        `--screenshot=${pngFile}`,
        `--window-size=${options.width ?? 1200},${options.height ?? 2000}`,
        pathToFileURL(htmlFile).href,
      ],
      { stdio: 'pipe', timeout: options.timeoutMs ?? 60_000 },
    );
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
  return statSync(pngFile).size;
}
