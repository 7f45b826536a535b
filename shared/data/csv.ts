/**
 * The user's own tabular data: a CSV file with a header row, numeric feature
 * columns and one label column (any strings or numbers: classes are the
 * distinct values, sorted). Errors name the file, line and column.
 */
import { readFileSync } from 'node:fs';
import { DataError } from '../errors.js';
import { makeDataset, type Dataset } from './dataset.js';

export interface CsvOptions {
  /** The label column's header name or 0-based index; default: the last column. */
  readonly labelColumn?: string | number;
  readonly delimiter?: string;
}

export interface CsvData {
  readonly dataset: Dataset;
  /** Class names, index = label. */
  readonly classes: readonly string[];
  readonly features: readonly string[];
}

function splitLine(line: string, delimiter: string): string[] {
  if (!line.includes('"')) return line.split(delimiter).map((c) => c.trim());
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

/** Parses CSV text; `file` names the source in errors. Features are not normalised here (see `fitStandardizer`). */
export function parseCsv(text: string, file: string, options: CsvOptions = {}): CsvData {
  const delimiter = options.delimiter ?? ',';
  const lines = text.split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt < 0) throw new DataError(`${file}: the file is empty`);
  const header = splitLine(lines[headerAt]!, delimiter);
  if (header.length < 2) throw new DataError(`${file}: line ${headerAt + 1}: need at least one feature column and a label column`);
  const lc = options.labelColumn ?? header.length - 1;
  const labelIndex = typeof lc === 'number' ? lc : header.indexOf(lc);
  if (labelIndex < 0 || labelIndex >= header.length) {
    throw new DataError(`${file}: label column ${JSON.stringify(lc)} not found; columns are ${header.join(', ')}`);
  }
  const features = header.filter((_, i) => i !== labelIndex);
  const values: number[] = [];
  const rawLabels: string[] = [];
  for (let li = headerAt + 1; li < lines.length; li++) {
    const line = lines[li]!;
    if (line.trim() === '') continue;
    const cells = splitLine(line, delimiter);
    if (cells.length !== header.length) {
      throw new DataError(`${file}: line ${li + 1}: ${cells.length} columns, the header has ${header.length}`);
    }
    cells.forEach((cell, ci) => {
      if (ci === labelIndex) {
        if (cell === '') throw new DataError(`${file}: line ${li + 1}: the label (column '${header[ci]}') is empty`);
        rawLabels.push(cell);
        return;
      }
      const v = cell === '' ? NaN : Number(cell);
      if (!Number.isFinite(v)) {
        throw new DataError(`${file}: line ${li + 1}, column '${header[ci]}': ${JSON.stringify(cell)} is not a finite number`);
      }
      values.push(v);
    });
  }
  if (rawLabels.length === 0) throw new DataError(`${file}: no data rows after the header`);
  const distinct = [...new Set(rawLabels)];
  const numeric = distinct.every((l) => Number.isFinite(Number(l)));
  distinct.sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  if (distinct.length < 2) throw new DataError(`${file}: the label column '${header[labelIndex]}' has a single class`);
  const index = new Map(distinct.map((c, i) => [c, i]));
  const y = Int32Array.from(rawLabels, (l) => index.get(l)!);
  return { dataset: makeDataset(Float32Array.from(values), y, [features.length], distinct.length), classes: distinct, features };
}

export function loadCsv(file: string, options: CsvOptions = {}): CsvData {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DataError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
  return parseCsv(text, file, options);
}
