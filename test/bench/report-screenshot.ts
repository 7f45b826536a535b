/**
 * Renders sample HTML reports (a chain search and an NB201 cell search) and
 * screenshots them with headless Chromium (Debian package `chromium`), to see
 * what a person sees.
 *
 *   npx tsx test/bench/report-screenshot.ts [OUT_DIR]     (default bench-results/report)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderHtmlReport } from '../../shared/report/html.js';
import { findChromium } from '../../shared/chromium.js';
import { screenshot } from '../../shared/report/screenshot.js';
import { cellSearch, chainSearch } from '../unit/report/fixtures.js';

const out = resolve(process.argv[2] ?? 'bench-results/report');
mkdirSync(out, { recursive: true });
const samples = { chain: chainSearch(), cell: cellSearch() };
const chromium = findChromium();
for (const [name, s] of Object.entries(samples)) {
  const html = renderHtmlReport(s.experiment, s.trials, { objectives: s.objectives, space: s.space, now: new Date('2025-03-01T12:00:00Z') });
  const file = `${out}/${name}.html`;
  writeFileSync(file, html);
  if (!chromium) {
    console.log(`${file} (no chromium: install the Debian package "chromium" for a screenshot)`);
    continue;
  }
  const png = `${out}/${name}.png`;
  const bytes = await screenshot(file, png, { chromium, width: 1200, height: 3600 });
  console.log(`${png} ${bytes} bytes`);
}
