/**
 * The stand-alone accuracies of `bench/oneshot.ts` (`--alone FILE`): the
 * validation accuracy of each architecture trained alone depends on the data,
 * the epochs and the skeleton, never on the supernet, so one file of them
 * serves every supernet variant. Rows are added one architecture at a time and
 * the file is rewritten after each, so a run cut short keeps every accuracy
 * it paid for.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/** What the stand-alone accuracies depend on; a file written for another setup is refused. */
export interface AloneSetup {
  readonly dataset: string;
  readonly seed: number;
  readonly trainSize: number;
  readonly valSize: number;
  readonly epochs: number;
  readonly skeleton: Readonly<Record<string, number>>;
  /** The stand-alone training seed, when it is not `seed` (a second seed measures the stand-alone noise). */
  readonly trainSeed?: number;
}

/** One architecture's stand-alone result (other fields of a row are kept as they are). */
export interface AloneRow {
  readonly arch: string;
  /** Validation accuracy after `epochs` epochs alone. */
  readonly alone: number;
  readonly trainSeconds?: number;
  readonly [extra: string]: unknown;
}

/** A stand-alone file bound to its path: look up and add rows. */
export class AloneFile {
  private constructor(
    private readonly path: string,
    private readonly setup: AloneSetup,
    private readonly rows: AloneRow[],
  ) {}

  /** Reads `path` (absent: no rows yet); refuses a file of another setup or with malformed rows, naming the option. */
  static open(path: string, setup: AloneSetup): AloneFile {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new AloneFile(path, setup, []);
      throw e;
    }
    let prior: { setup?: unknown; rows?: unknown };
    try {
      prior = JSON.parse(text) as typeof prior;
    } catch (e) {
      throw new Error(`--alone ${path}: not JSON (${(e as Error).message})`);
    }
    if (JSON.stringify(prior.setup) !== JSON.stringify(setup)) throw new Error(`--alone ${path}: its setup ${JSON.stringify(prior.setup)} differs from this run's ${JSON.stringify(setup)}`);
    const rows = prior.rows;
    if (!Array.isArray(rows) || rows.some((r) => typeof (r as AloneRow)?.arch !== 'string' || typeof (r as AloneRow).alone !== 'number')) {
      throw new Error(`--alone ${path}: expected rows: [{arch: string, alone: number}, …]`);
    }
    return new AloneFile(path, setup, rows as AloneRow[]);
  }

  /** The stored row of an architecture (by its arch string). */
  get(arch: string): AloneRow | undefined {
    return this.rows.find((r) => r.arch === arch);
  }

  /** Adds (or replaces) a row and rewrites the file at once (whole, through a rename: never half-written). */
  add(row: AloneRow): void {
    const i = this.rows.findIndex((r) => r.arch === row.arch);
    if (i >= 0) this.rows[i] = row;
    else this.rows.push(row);
    writeFileSync(`${this.path}.tmp`, `${JSON.stringify({ setup: this.setup, rows: this.rows }, null, 1)}\n`);
    renameSync(`${this.path}.tmp`, this.path);
  }

  get size(): number {
    return this.rows.length;
  }
}
