/**
 * The user's own tabular data: a CSV file with a header row, numeric feature
 * columns and one label column (any strings or numbers: classes are the
 * distinct values, sorted). Errors name the file, line and column, never a
 * cell's content.
 */
import { DataError } from '../errors.js';
import { makeDataset, type Dataset } from './dataset.js';
import { readRegularFile } from './file.js';

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

/** A column name as headers write them: printable, short, with at least one letter or underscore (a row of numbers is data, not a header). */
const COLUMN_NAME = /^(?=.*[\p{L}_])[\p{L}\p{N}_ .()/%+:#@[\]<>~|-]{1,128}$/u;

/** Column names for a message, at most the first 20 of them. */
export function listColumns(header: readonly string[]): string {
  return header.length > 20 ? `${header.slice(0, 20).join(', ')}, … (${header.length} in all)` : header.join(', ');
}

/** A CSV file split into cells: its header and its rows with their line numbers (1-based). */
export interface CsvTable {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly lines: readonly number[];
}

/**
 * Whether a line is a plausible CSV header: at least two distinct columns,
 * each a name (printable, at most 128 characters, with a letter or an
 * underscore).
 * A line that is not (a password file's, a token's, a data row's, binary)
 * must never be quoted back as "columns".
 */
export function isCsvHeader(line: string, delimiter = ','): boolean {
  const names = splitLine(line, delimiter);
  return names.length >= 2 && names.every((n) => COLUMN_NAME.test(n)) && new Set(names).size === names.length;
}

/**
 * Splits CSV text into a header and rows, checking its shape: a plausible
 * header line, then rows of as many fields. A file that is not such a table
 * is "not a CSV table" and nothing of it is quoted, only line numbers and
 * counts; the column names are quoted only once the whole file parsed.
 */
export function parseCsvTable(text: string, file: string, delimiter = ','): CsvTable {
  const lines = text.split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt < 0) throw new DataError(`${file}: the file is empty`);
  if (!isCsvHeader(lines[headerAt]!, delimiter)) {
    throw new DataError(`${file}: not a CSV table: line ${headerAt + 1} is not a header of column names (two or more, each with a letter)`);
  }
  const header = splitLine(lines[headerAt]!, delimiter);
  const rows: string[][] = [];
  const at: number[] = [];
  for (let li = headerAt + 1; li < lines.length; li++) {
    const line = lines[li]!;
    if (line.trim() === '') continue;
    const cells = splitLine(line, delimiter);
    if (cells.length !== header.length) throw new DataError(`${file}: not a CSV table: line ${li + 1} has ${cells.length} fields, the header has ${header.length}`);
    rows.push(cells);
    at.push(li + 1);
  }
  if (rows.length === 0) throw new DataError(`${file}: no data rows after the header`);
  return { header, rows, lines: at };
}

/** Parses CSV text; `file` names the source in errors, which quote column names but no cell. Features are not normalised here (see `fitStandardizer`). */
export function parseCsv(text: string, file: string, options: CsvOptions = {}): CsvData {
  const { header, rows, lines } = parseCsvTable(text, file, options.delimiter ?? ',');
  if (header.length < 2) throw new DataError(`${file}: need at least one feature column and a label column`);
  const lc = options.labelColumn ?? header.length - 1;
  const labelIndex = typeof lc === 'number' ? lc : header.indexOf(lc);
  if (labelIndex < 0 || labelIndex >= header.length) {
    throw new DataError(`${file}: label column ${JSON.stringify(lc)} not found; columns are ${listColumns(header)}`);
  }
  const features = header.filter((_, i) => i !== labelIndex);
  const values: number[] = [];
  const rawLabels: string[] = [];
  rows.forEach((cells, r) => {
    cells.forEach((cell, ci) => {
      if (ci === labelIndex) {
        if (cell === '') throw new DataError(`${file}: line ${lines[r]}: the label (column '${header[ci]}') is empty`);
        rawLabels.push(cell);
        return;
      }
      const v = cell === '' ? NaN : Number(cell);
      if (!Number.isFinite(v)) throw new DataError(`${file}: line ${lines[r]}, column '${header[ci]}': not a finite number`);
      values.push(v);
    });
  });
  const distinct = [...new Set(rawLabels)];
  const numeric = distinct.every((l) => Number.isFinite(Number(l)));
  distinct.sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  if (distinct.length < 2) throw new DataError(`${file}: the label column '${header[labelIndex]}' has a single class`);
  const index = new Map(distinct.map((c, i) => [c, i]));
  const y = Int32Array.from(rawLabels, (l) => index.get(l)!);
  return { dataset: makeDataset(Float32Array.from(values), y, [features.length], distinct.length), classes: distinct, features };
}

/** Loads a CSV data file (a regular file; see `parseCsv`). */
export function loadCsv(file: string, options: CsvOptions = {}): CsvData {
  return parseCsv(readRegularFile(file).toString('utf8'), file, options);
}
