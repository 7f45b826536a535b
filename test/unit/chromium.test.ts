/** The one rule for which Chromium nasflow drives (shared/chromium.ts), used by the report's screenshot and by browser latency. */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHROMIUM_CANDIDATES, findChromium } from '../../shared/chromium.js';
import { chromiumUnavailable } from '../../shared/latency/chromium.js';
import { screenshot } from '../../shared/report/screenshot.js';

describe('findChromium', () => {
  it('NASFLOW_CHROMIUM naming no executable is an error naming the variable and the path, for both callers', () => {
    // Arrange
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-chromium-'));
    const missing = join(dir, 'no-such-chromium');
    const notExecutable = join(dir, 'chromium.txt');
    writeFileSync(notExecutable, 'not a browser');
    const before = process.env.NASFLOW_CHROMIUM;
    try {
      // Act / Assert
      expect(() => findChromium({ NASFLOW_CHROMIUM: missing })).toThrow(`no Chromium at ${missing}, the path NASFLOW_CHROMIUM names`);
      expect(() => findChromium({ NASFLOW_CHROMIUM: notExecutable })).toThrow(/no Chromium at .*chromium\.txt, the path NASFLOW_CHROMIUM names/);
      expect(() => findChromium({ NASFLOW_CHROMIUM: dir })).toThrow(/NASFLOW_CHROMIUM/);
      // The callers read the process's environment: neither falls back to another Chromium.
      process.env.NASFLOW_CHROMIUM = missing;
      expect(chromiumUnavailable()).toBe(`no Chromium at ${missing}, the path NASFLOW_CHROMIUM names (expected a Chromium executable; unset NASFLOW_CHROMIUM to use an installed one)`);
      expect(() => screenshot(join(dir, 'r.html'), join(dir, 'r.png'))).toThrow(`no Chromium at ${missing}, the path NASFLOW_CHROMIUM names`);
    } finally {
      if (before === undefined) delete process.env.NASFLOW_CHROMIUM;
      else process.env.NASFLOW_CHROMIUM = before;
    }
  });

  it('NASFLOW_CHROMIUM naming an executable file is the answer, installed or not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-chromium-'));
    const exe = join(dir, 'my-chromium');
    writeFileSync(exe, '#!/bin/sh\n');
    chmodSync(exe, 0o755);
    expect(findChromium({ NASFLOW_CHROMIUM: exe })).toBe(exe);
  });

  it('unset (or empty), the first installed candidate, else undefined', () => {
    const found = findChromium({});
    expect(found === undefined || CHROMIUM_CANDIDATES.includes(found)).toBe(true);
    expect(findChromium({ NASFLOW_CHROMIUM: '' })).toBe(found);
  });
});
