import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArtifactReportSink, continueFromParent, FsArtifactStore, MemoryArtifactStore, trialKeys, type ArtifactStore } from '../../../shared/train/ports.js';

const stores: Array<[string, () => ArtifactStore]> = [
  ['memory', () => new MemoryArtifactStore()],
  ['filesystem', () => new FsArtifactStore(mkdtempSync(join(tmpdir(), 'nasflow-store-')))],
];

describe.each(stores)('%s artifact store', (_, make) => {
  it('gets what was put, overwrites, lists by prefix, and answers undefined for unknown keys', async () => {
    const store = make();
    expect(await store.get('trials/a/x.bin')).toBeUndefined();
    await store.put('trials/a/x.bin', new Uint8Array([1, 2, 3]));
    await store.put('trials/a/y/z.json', new TextEncoder().encode('{}'));
    await store.put('trials/b/x.bin', new Uint8Array([9]));
    await store.put('trials/a/x.bin', new Uint8Array([4]));
    expect(Array.from((await store.get('trials/a/x.bin'))!)).toEqual([4]);
    expect(await store.list('trials/a/')).toEqual(['trials/a/x.bin', 'trials/a/y/z.json']);
    expect(await store.list('nothing/')).toEqual([]);
  });

  it('returns copies: changing what was got or put does not change the store', async () => {
    const store = make();
    const bytes = new Uint8Array([1, 2]);
    await store.put('k', bytes);
    bytes[0] = 7;
    const got = (await store.get('k'))!;
    got[1] = 8;
    expect(Array.from((await store.get('k'))!)).toEqual([1, 2]);
  });

  it('a report sink keeps the last report per epoch, in order, across restarts', async () => {
    const store = make();
    const sink = new ArtifactReportSink(store, 'trials/t/reports.json');
    await sink.report({ epoch: 2, metrics: { loss: 2 } });
    await sink.report({ epoch: 1, metrics: { loss: 1 } });
    const again = new ArtifactReportSink(store, 'trials/t/reports.json');
    await again.load();
    await again.report({ epoch: 2, metrics: { loss: 0.5 } });
    expect(await new ArtifactReportSink(store, 'trials/t/reports.json').load()).toEqual([
      { epoch: 1, metrics: { loss: 1 } },
      { epoch: 2, metrics: { loss: 0.5 } },
    ]);
  });
});

describe('filesystem artifact store', () => {
  it('refuses keys that leave its folder and leaves no temporary files', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nasflow-store-'));
    const store = new FsArtifactStore(root);
    await expect(store.put('../escape', new Uint8Array([1]))).rejects.toThrow(/escapes the store/);
    await store.put('a/b', new Uint8Array([1]));
    expect(readdirSync(join(root, 'a'))).toEqual(['b']);
  });
});

describe('continueFromParent', () => {
  it("gives a promotion its parent's checkpoint, but never overwrites the trial's own", async () => {
    const store = new MemoryArtifactStore();
    await store.put(trialKeys('p').checkpoint, new Uint8Array([1]));
    await continueFromParent(store, 'c', 'p');
    expect(await store.get(trialKeys('c').checkpoint)).toEqual(new Uint8Array([1]));
    await store.put(trialKeys('c').checkpoint, new Uint8Array([2]));
    await continueFromParent(store, 'c', 'p');
    expect(await store.get(trialKeys('c').checkpoint)).toEqual(new Uint8Array([2]));
    await continueFromParent(store, 'd', 'no-such-parent');
    expect(await store.get(trialKeys('d').checkpoint)).toBeUndefined();
  });
});
