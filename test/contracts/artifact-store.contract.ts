/**
 * The `ArtifactStore` contract (`shared/train/ports.ts`): every adapter —
 * memory, the artifacts folder, and later S3 against a local server — runs
 * these same tests.
 */
import { describe, expect, it } from 'vitest';
import { getJson, putJson, type ArtifactStore } from '../../shared/train/ports.js';

/** Makes a fresh, empty store. */
export type ArtifactStoreFactory = () => ArtifactStore | Promise<ArtifactStore>;

/** Contract cases an adapter is known to break today, run as expected failures (`it.fails`) until it is fixed. */
export type ArtifactContractCase = 'key-that-is-a-folder' | 'concurrent-puts-same-key';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

export function artifactStoreContract(adapter: string, factory: ArtifactStoreFactory, knownGaps: readonly ArtifactContractCase[] = []): void {
  const gap = (c: ArtifactContractCase): typeof it | typeof it.fails => (knownGaps.includes(c) ? it.fails : it);

  describe(`ArtifactStore contract: ${adapter}`, () => {
    it('answers undefined for a key never written, and the bytes put for one that was', async () => {
      const store = await factory();
      expect(await store.get('trials/t1/checkpoint.bin')).toBeUndefined();

      await store.put('trials/t1/checkpoint.bin', bytes(0, 1, 2, 255));

      expect(Array.from((await store.get('trials/t1/checkpoint.bin'))!)).toEqual([0, 1, 2, 255]);
    });

    gap('key-that-is-a-folder')('answers undefined for a key that is only a prefix of written keys', async () => {
      const store = await factory();
      await store.put('trials/t1/checkpoint.bin', bytes(1));

      expect(await store.get('trials/t1')).toBeUndefined();
    });

    gap('concurrent-puts-same-key')('concurrent puts to one key all succeed, and the key then holds one of them whole', async () => {
      const store = await factory();
      const versions = [1, 2, 3, 4].map((v) => new Uint8Array(1_000_000).fill(v));

      const outcomes = await Promise.allSettled(versions.map((v) => store.put('ckpt/latest.bin', v)));

      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
      const got = (await store.get('ckpt/latest.bin'))!;
      expect(got.length).toBe(1_000_000);
      expect(new Set(got).size).toBe(1);
    });

    it('overwrites: a second put replaces the bytes whole, longer or shorter', async () => {
      const store = await factory();
      await store.put('k/v', text('a long first version'));
      await store.put('k/v', text('short'));
      expect(new TextDecoder().decode(await store.get('k/v'))).toBe('short');
      await store.put('k/v', bytes());
      expect((await store.get('k/v'))?.length).toBe(0);
    });

    it('lists keys by string prefix, sorted, without the prefix matching only whole folders', async () => {
      const store = await factory();
      for (const key of ['trials/b/x', 'trials/a/y/z.json', 'trials/a/x.bin', 'trials/ab/x', 'models/m1/model.json']) {
        await store.put(key, bytes(1));
      }

      expect(await store.list('trials/a/')).toEqual(['trials/a/x.bin', 'trials/a/y/z.json']);
      expect(await store.list('trials/a')).toEqual(['trials/a/x.bin', 'trials/a/y/z.json', 'trials/ab/x']);
      expect(await store.list('')).toEqual(['models/m1/model.json', 'trials/a/x.bin', 'trials/a/y/z.json', 'trials/ab/x', 'trials/b/x']);
      expect(await store.list('nothing/')).toEqual([]);
    });

    it('hands out copies: changing bytes after put or after get changes nothing stored', async () => {
      const store = await factory();
      const put = bytes(1, 2, 3);
      await store.put('k', put);
      put[0] = 9;
      const got = (await store.get('k'))!;
      got[1] = 9;
      expect(Array.from((await store.get('k'))!)).toEqual([1, 2, 3]);
    });

    it('keeps concurrent puts to different keys apart', async () => {
      const store = await factory();
      const keys = Array.from({ length: 20 }, (_, i) => `par/${i % 4}/k${i}`);

      await Promise.all(keys.map((k, i) => store.put(k, bytes(i, i, i))));

      expect(await store.list('par/')).toEqual([...keys].sort());
      for (const [i, k] of keys.entries()) expect(Array.from((await store.get(k))!)).toEqual([i, i, i]);
    });

    it('round-trips JSON through putJson/getJson', async () => {
      const store = await factory();
      const value = { leaderboard: [{ id: 't1', values: [0.98, 120_000] }], note: 'ünïcode ✓' };
      await putJson(store, 'reports/e1/report.json', value);
      expect(await getJson(store, 'reports/e1/report.json')).toEqual(value);
      expect(await getJson(store, 'reports/e1/missing.json')).toBeUndefined();
    });
  });
}
