import { skipWithout } from '../../support/externals.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { renderHtmlReport } from '../../../shared/report/html.js';
import { findChromium } from '../../../shared/chromium.js';
import { screenshot } from '../../../shared/report/screenshot.js';
import { chainSearch } from './fixtures.js';

/** Width, height and the number of distinct colours of the top `rows` rows of an 8-bit RGB(A) PNG. */
function pngStats(png: Buffer, rows: number): { width: number; height: number; colours: number } {
  expect(png.subarray(1, 4).toString()).toBe('PNG');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.subarray(off + 4, off + 8).toString();
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8);
      channels = data[9] === 6 ? 4 : 3;
    }
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const prev = Buffer.alloc(stride);
  const cur = Buffer.alloc(stride);
  const colours = new Set<number>();
  for (let y = 0; y < Math.min(rows, height); y++) {
    const filter = raw[y * (stride + 1)] as number;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? (cur[i - channels] as number) : 0;
      const b = prev[i] as number;
      const c = i >= channels ? (prev[i - channels] as number) : 0;
      const x = line[i] as number;
      let v: number;
      if (filter === 0) v = x;
      else if (filter === 1) v = x + a;
      else if (filter === 2) v = x + b;
      else if (filter === 3) v = x + ((a + b) >> 1);
      else {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      cur[i] = v & 255;
    }
    for (let i = 0; i < stride; i += channels) colours.add(((cur[i] as number) << 16) | ((cur[i + 1] as number) << 8) | (cur[i + 2] as number));
    cur.copy(prev);
  }
  return { width, height, colours: colours.size };
}

const chromium = findChromium();

describe.skipIf(skipWithout(chromium ? undefined : 'no Chromium (apt-get install chromium, or set NASFLOW_CHROMIUM)', 'the HTML report in headless Chromium'))('HTML report in headless Chromium', () => {
  it('renders to a picture whose charts Chart.js drew', () => {
    // Arrange
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-report-'));
    const s = chainSearch(30);
    const file = join(dir, 'report.html');
    writeFileSync(file, renderHtmlReport(s.experiment, s.trials, { objectives: s.objectives, space: s.space }));
    // The same report with the chart library left out: its canvases stay empty.
    const noCharts = join(dir, 'no-charts.html');
    writeFileSync(noCharts, renderHtmlReport(s.experiment, s.trials, { objectives: s.objectives, space: s.space, chartJs: '' }));

    try {
      // Act
      const bytes = screenshot(file, join(dir, 'report.png'), { chromium: chromium as string, width: 1200, height: 2000 });
      screenshot(noCharts, join(dir, 'no-charts.png'), { chromium: chromium as string, width: 1200, height: 2000 });

      // Assert
      const stats = pngStats(readFileSync(join(dir, 'report.png')), 2000);
      const without = pngStats(readFileSync(join(dir, 'no-charts.png')), 2000);
      expect(stats).toMatchObject({ width: 1200, height: 2000 });
      expect(without.colours).toBeGreaterThan(100); // anti-aliased text and coloured tags
      expect(stats.colours).toBeGreaterThan(without.colours + 100); // chart lines, points and fills
      expect(bytes).toBeGreaterThan(50_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
