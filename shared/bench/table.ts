/**
 * A tabular benchmark (NAS-Bench-201 format: one row per cell, keyed by
 * `arch_str`) and the evaluator that answers trials from it with simulated
 * cost: a 200-epoch column costs 200 epoch-units, a 12-epoch one 12.
 */
import { listColumns, parseCsvTable } from '../data/csv.js';
import { readRegularFile } from '../data/file.js';
import { DataError } from '../errors.js';
import type { Rng } from '../rng.js';
import type { Architecture, Space } from '../space/space.js';

export class BenchTable {
  private readonly rowByArch = new Map<string, number>();

  private constructor(
    readonly path: string,
    readonly columns: readonly string[],
    private readonly cells: readonly (readonly string[])[],
    /** The file's line number of each row. */
    private readonly lines: readonly number[],
  ) {
    const k = columns.indexOf('arch_str');
    if (k < 0) throw new DataError(`${path}: no "arch_str" column (columns: ${listColumns(columns)})`);
    cells.forEach((row, i) => this.rowByArch.set(row[k] as string, i));
  }

  /**
   * Loads a table: a regular file that parses as CSV (see `parseCsvTable`).
   * Errors quote its column names, never its cells.
   */
  static load(path: string): BenchTable {
    const text = readRegularFile(path, (problem) => `cannot read table ${path}: ${problem.replace(/^cannot read: /, '')}`).toString('utf8');
    const { header, rows, lines } = parseCsvTable(text, path);
    return new BenchTable(path, header, rows, lines);
  }

  get size(): number {
    return this.cells.length;
  }

  /** Checks that a column exists and holds numbers (`;`-separated lists when `list`). */
  requireColumn(name: string, list = false): void {
    const k = this.columns.indexOf(name);
    if (k < 0) throw new DataError(`${this.path}: no column "${name}" (columns: ${listColumns(this.columns)})`);
    for (const [i, row] of this.cells.entries()) {
      const parts = list ? (row[k] as string).split(';') : [row[k] as string];
      if (parts.some((p) => p.trim() === '' || !Number.isFinite(Number(p)))) {
        throw new DataError(`${this.path}: line ${this.lines[i]}: column "${name}" does not hold ${list ? 'numbers separated by ";"' : 'a number'}`);
      }
    }
  }

  /** Numeric values of a column, by row. */
  column(name: string): Float64Array {
    this.requireColumn(name);
    const k = this.columns.indexOf(name);
    return Float64Array.from(this.cells, (r) => Number(r[k]));
  }

  /** `;`-separated per-seed values of a column, by row. */
  listColumn(name: string): number[][] {
    this.requireColumn(name, true);
    const k = this.columns.indexOf(name);
    return this.cells.map((r) => (r[k] as string).split(';').map(Number));
  }

  row(archStr: string): number | undefined {
    return this.rowByArch.get(archStr);
  }

  /** This table with one more numeric column `name` (values by row), e.g. a permuted copy of another. */
  withColumn(name: string, values: ArrayLike<number>): BenchTable {
    const cells = this.cells.map((r, i) => [...r, String(values[i])]);
    return new BenchTable(this.path, [...this.columns, name], cells, this.lines);
  }

  archStrs(): string[] {
    const k = this.columns.indexOf('arch_str');
    return this.cells.map((r) => r[k] as string);
  }
}

/** Epoch cost of evaluating a column: the number in `_<N>ep`, or `fallback`. */
export function epochsOfColumn(name: string, fallback = 1): number {
  const m = /_(\d+)ep(?:_|$)/.exec(name);
  return m ? Number(m[1]) : fallback;
}

export interface TableResult {
  readonly row: number;
  /** Metric values observed for this evaluation (a per-seed draw in noisy mode). */
  readonly metrics: Readonly<Record<string, number>>;
  /** Simulated cost in epochs. */
  readonly cost: number;
}

export interface TableEvaluatorOptions {
  /** Columns reported as metrics, by metric name (e.g. { val_accuracy: 'val_acc_200ep' }). */
  readonly metrics: Readonly<Record<string, string>>;
  /** Metric name → `;`-separated seeds column: one value is drawn per evaluation. */
  readonly noisy?: Readonly<Record<string, string>>;
  /** Epoch cost per evaluation (default: from the first metric's column name). */
  readonly cost?: number;
}

/** Answers trials of a cell space from a table. */
export class TableEvaluator {
  private readonly values: Record<string, Float64Array> = {};
  private readonly draws: Record<string, number[][]> = {};
  readonly cost: number;

  constructor(
    readonly table: BenchTable,
    readonly space: Space,
    readonly options: TableEvaluatorOptions,
  ) {
    if (space.kind !== 'cell') throw new DataError('the table evaluator answers cell spaces only');
    for (const [metric, col] of Object.entries(options.metrics)) this.values[metric] = table.column(col);
    for (const [metric, col] of Object.entries(options.noisy ?? {})) this.draws[metric] = table.listColumn(col);
    const first = Object.values(options.metrics)[0];
    this.cost = options.cost ?? (first ? epochsOfColumn(first, 1) : 1);
  }

  rowOf(arch: Architecture): number {
    const s = this.space.archStr(arch);
    const r = this.table.row(s);
    if (r === undefined) throw new DataError(`${this.table.path}: no row for ${s}`);
    return r;
  }

  /**
   * One evaluation: the mean columns, or one of the row's recorded seeds per
   * noisy metric. `measurement` k of an architecture (a re-measure, with
   * `rng` seeded as for its first) reads the seed k - 1 places after the
   * first one's, so a re-measure is a new seed until the row's run out.
   */
  evaluate(arch: Architecture, rng: Rng, measurement = 1): TableResult {
    const row = this.rowOf(arch);
    const metrics: Record<string, number> = {};
    for (const [m, col] of Object.entries(this.values)) {
      const draws = this.draws[m]?.[row];
      metrics[m] = draws ? (draws[(rng.int(draws.length) + measurement - 1) % draws.length] as number) : (col[row] as number);
    }
    return { row, metrics, cost: this.cost };
  }
}
