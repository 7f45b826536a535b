/**
 * The two ports a trainer needs, and their embedded adapters. The experiment
 * store and the artifact store (a later piece of work) implement these.
 *
 * - `ReportSink` receives one report per finished epoch. The trainer only
 *   reports; the sink decides where reports go (SQLite, DynamoDB, a test array).
 * - `ArtifactStore` holds bytes by key: checkpoints, exported models, results.
 *   `put` overwrites, so rewriting a checkpoint is idempotent; `get` returns
 *   `undefined` for a key never written.
 */
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { trialArtifactKeys } from '../contract.js';

/** Artifact keys of a trial (the contract's `trialArtifactKeys`; here, not in the trainer, so that light processes need not load TensorFlow.js). */
export const trialKeys = trialArtifactKeys;

/**
 * A promotion continues its parent's training: the parent's checkpoint becomes
 * the trial's own, unless the trial already checkpointed (it is resuming).
 */
export async function continueFromParent(store: ArtifactStore, trialId: string, parentId: string): Promise<void> {
  const own = trialKeys(trialId).checkpoint;
  if (await store.get(own)) return;
  const bytes = await store.get(trialKeys(parentId).checkpoint);
  if (bytes) await store.put(own, bytes);
}

/** Metrics of one epoch: `loss`, `accuracy`, `val_loss`, `val_accuracy`, `epoch_seconds`, ... */
export type Metrics = Readonly<Record<string, number>>;

/** One report: the epoch just finished (1-based) and its metrics. */
export interface EpochReport {
  readonly epoch: number;
  readonly metrics: Metrics;
}

/**
 * Where per-epoch reports go. A resumed trial reports only the epochs it
 * trains after resuming; an epoch may be reported twice if a crash fell
 * between the report and the checkpoint, so sinks keep the last report per epoch.
 */
export interface ReportSink {
  report(report: EpochReport): void | Promise<void>;
}

/** A sink that keeps reports in an array (tests, local runs). */
export class MemoryReportSink implements ReportSink {
  readonly reports: EpochReport[] = [];
  report(report: EpochReport): void {
    this.reports.push(report);
  }
}

/**
 * A sink that keeps a trial's reports as one JSON array in an artifact store,
 * the last report per epoch, sorted by epoch. `load` first when resuming.
 */
export class ArtifactReportSink implements ReportSink {
  private reports: EpochReport[] = [];
  constructor(private readonly store: ArtifactStore, private readonly key: string) {}

  async load(): Promise<readonly EpochReport[]> {
    this.reports = (await getJson<EpochReport[]>(this.store, this.key)) ?? [];
    return this.reports;
  }

  async report(r: EpochReport): Promise<void> {
    this.reports = [...this.reports.filter((x) => x.epoch !== r.epoch), r].sort((a, b) => a.epoch - b.epoch);
    await putJson(this.store, this.key, this.reports);
  }
}

/** Bytes by key. Keys are `/`-separated paths such as `trials/t1/checkpoint.bin`. */
export interface ArtifactStore {
  get(key: string): Promise<Uint8Array | undefined>;
  /** Writes (or overwrites) a key; a reader sees the old bytes or the new ones, never a mix. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
}

export class MemoryArtifactStore implements ArtifactStore {
  private readonly items = new Map<string, Uint8Array>();
  async get(key: string): Promise<Uint8Array | undefined> {
    const v = this.items.get(key);
    return v === undefined ? undefined : v.slice();
  }
  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.items.set(key, bytes.slice());
  }
  async list(prefix: string): Promise<string[]> {
    return [...this.items.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}

/** An artifacts folder: each key is a file below `root`. Writes go to a temporary file first, then rename. */
let tmpCounter = 0;

export class FsArtifactStore implements ArtifactStore {
  readonly root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }

  private path(key: string): string {
    const p = resolve(this.root, key);
    if (p !== this.root && !p.startsWith(this.root + sep)) throw new Error(`artifact key escapes the store: ${key}`);
    return p;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const b = await readFile(this.path(key));
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      // A key that names a folder (a prefix of other keys) holds no bytes.
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') return undefined;
      throw e;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const p = this.path(key);
    await mkdir(dirname(p), { recursive: true });
    // One temporary file per write, so concurrent puts to one key never share it.
    const tmp = `${p}.${process.pid}.${(tmpCounter = (tmpCounter + 1) % 1e9)}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, p);
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (!e.name.endsWith('.tmp')) out.push(relative(this.root, full).split(sep).join('/'));
      }
    };
    await walk(this.root);
    return out.filter((k) => k.startsWith(prefix)).sort();
  }
}

/** Utility for JSON artifacts. */
export async function putJson(store: ArtifactStore, key: string, value: unknown): Promise<void> {
  await store.put(key, new TextEncoder().encode(JSON.stringify(value, null, 2)));
}

export async function getJson<T>(store: ArtifactStore, key: string): Promise<T | undefined> {
  const b = await store.get(key);
  return b === undefined ? undefined : (JSON.parse(new TextDecoder().decode(b)) as T);
}
