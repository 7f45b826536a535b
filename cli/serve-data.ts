/**
 * Which data files a spec submitted to `nasflow serve` may name: regular
 * files inside the folders the operator gave (`--data DIR`, repeatable; none
 * by default, so only the built-in datasets, MNIST and Fashion-MNIST, which
 * name no file), no larger than a cap. A path outside the folders is refused
 * from its text alone, before anything touches it; one inside is resolved
 * (symbolic links included) and checked again, then stat-ed: no FIFO,
 * device, socket or directory gets opened. Every call here is asynchronous
 * and bounded in time: the server's event loop never waits on a file. What
 * the files hold (a CSV header of column names, IDX headers) is checked
 * next, in the preflight worker (`datasetFileIssues`).
 */
import { realpathSync, type Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import type { SpecIssue } from '../shared/errors.js';
import type { ExperimentSpec } from '../shared/spec/experiment.js';
import { datasetFiles } from '../shared/spec/preflight.js';

/** Default cap on a data file a submitted spec names: 1 GiB. */
export const DEFAULT_MAX_DATA_BYTES = 1 << 30;
/** How long the checks of one file may take (a stalled network mount must not hold a request for ever). */
const FILE_CHECK_MS = 10_000;

/** Where submitted specs may read data. */
export interface DataPolicy {
  /** Folders (`--data`); empty: no data file at all. */
  readonly roots: readonly string[];
  /** Largest data file, in bytes. */
  readonly maxBytes: number;
}

/** The roots as given and as resolved on disk: a path is checked against both forms. */
interface Root {
  readonly given: string;
  readonly real: string;
}

const within = (root: string, path: string) => {
  const r = relative(root, path);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
};

/** The data rules of one server; `roots` must exist (checked at start-up). */
export class DataGate {
  private readonly roots: readonly Root[];

  constructor(private readonly policy: DataPolicy, private readonly cwd = process.cwd()) {
    this.roots = policy.roots.map((r) => ({ given: resolve(cwd, r), real: realpathSync(resolve(cwd, r)) }));
  }

  /** Problems with the data files `spec` names, by field path (empty: all may be read). */
  async issues(spec: ExperimentSpec): Promise<SpecIssue[]> {
    const out: SpecIssue[] = [];
    for (const [path, file] of datasetFiles(spec)) {
      if (file === undefined) continue;
      const message = await withTimeout(this.check(file), FILE_CHECK_MS, `could not be checked within ${FILE_CHECK_MS / 1000} s`);
      if (message) out.push({ path, message });
    }
    return out;
  }

  private outside(): string {
    return this.roots.length
      ? 'not inside a data folder of this server (nasflow serve --data DIR)'
      : 'not inside a data folder of this server (nasflow serve --data DIR); it has none, so only the built-in datasets (mnist, fashion-mnist) can be used';
  }

  /** Why `file` may not be read, or undefined. */
  private async check(file: string): Promise<string | undefined> {
    const abs = resolve(this.cwd, file);
    // From the text alone first: a path outside every root is never touched.
    if (!this.roots.some((r) => within(r.given, abs) || within(r.real, abs))) return this.outside();
    let real: string;
    try {
      real = await realpath(abs);
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' ? `file not found: ${file}` : `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    // A symbolic link inside a root may point anywhere.
    if (!this.roots.some((r) => within(r.real, real))) return this.outside();
    let st: Stats;
    try {
      st = await stat(real);
    } catch (e) {
      return `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    if (!st.isFile()) return `not a regular file (${kind(st)})`;
    if (st.size > this.policy.maxBytes) return `larger than the server's cap of ${formatMb(this.policy.maxBytes)} (nasflow serve --max-data-mb)`;
    return undefined;
  }
}

function kind(st: Stats): string {
  return st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a file';
}

const formatMb = (bytes: number) => `${Number((bytes / (1 << 20)).toPrecision(3))} MB`;

async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T | string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((ok) => {
    timer = setTimeout(() => ok(message), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
