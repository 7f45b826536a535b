import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactStoreFromUrl } from '../../shared/aws/index.js';
import { CHECKPOINT_TAGGING, S3ArtifactStore } from '../../shared/aws/s3-artifacts.js';
import { CHECKPOINT_TAG } from '../../infra/constructs/results-store.js';
import { FsArtifactStore } from '../../shared/train/ports.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';
import { artifactStoreContract } from './artifact-store.contract.js';

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws({ dynamo: false, sqs: false });
});
afterAll(() => aws.stop());

// A fresh bucket per store; pages of 2 keys, so every listing of more than 2 keys is truncated and continued.
artifactStoreContract('s3 (s3rver)', async () => new S3ArtifactStore({ client: aws.clients.s3, bucket: await aws.createBucket(), pageSize: 2 }));
// Keys under a prefix in a shared bucket: nothing outside the prefix is seen.
artifactStoreContract('s3 (s3rver, prefix)', async () => {
  const bucket = await aws.createBucket();
  await new S3ArtifactStore({ client: aws.clients.s3, bucket }).put('outside/x', new Uint8Array([1]));
  return new S3ArtifactStore({ client: aws.clients.s3, bucket, prefix: 'runs/r1', pageSize: 3 });
});

describe('S3ArtifactStore', () => {
  it('tags trial checkpoints for the bucket lifecycle rule, and nothing else', async () => {
    // s3rver accepts the tag header but does not keep tags: check what the adapter sends.
    const client = aws.clients.s3;
    const sent = new Map<string, string | undefined>();
    client.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { path?: string; headers?: Record<string, string> };
        if (req.path) sent.set(decodeURIComponent(req.path), req.headers?.['x-amz-tagging']);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'captureTagging' },
    );
    const bucket = await aws.createBucket();
    const store = new S3ArtifactStore({ client, bucket });
    try {
      await store.put('trials/t1/checkpoint.bin', new Uint8Array([1, 2]));
      await store.put('trials/t1/result.json', new Uint8Array([3]));
    } finally {
      client.middlewareStack.remove('captureTagging');
    }
    expect(sent.get(`/${bucket}/trials/t1/checkpoint.bin`)).toBe('nasflow%3Akind=checkpoint');
    expect(sent.get(`/${bucket}/trials/t1/result.json`)).toBeUndefined();
    expect(decodeURIComponent(CHECKPOINT_TAGGING)).toBe(`${CHECKPOINT_TAG.key}=${CHECKPOINT_TAG.value}`);
  });

  it('lists more keys than one page holds, across many continuation tokens', async () => {
    const store = new S3ArtifactStore({ client: aws.clients.s3, bucket: await aws.createBucket(), pageSize: 7 });
    const keys = Array.from({ length: 45 }, (_, i) => `trials/t${String(i).padStart(3, '0')}/result.json`);
    await Promise.all(keys.map((k) => store.put(k, new Uint8Array([1]))));

    expect(await store.list('trials/')).toEqual(keys);
    expect(await store.list('trials/t01')).toEqual(keys.slice(10, 20));
  });

  it('answers a missing bucket with a StoreError naming it', async () => {
    const store = new S3ArtifactStore({ client: aws.clients.s3, bucket: 'no-such-bucket' });
    const err = await store.put('k', new Uint8Array([1])).catch((e: unknown) => e as Error);
    expect((err as Error).name).toBe('StoreError');
    expect((err as Error).message).toContain('s3://no-such-bucket/k');
  });
});

describe('artifactStoreFromUrl', () => {
  it('reads s3://bucket/prefix as S3 and anything else as a folder', async () => {
    const bucket = await aws.createBucket();
    const s3 = artifactStoreFromUrl(`s3://${bucket}/exp1`, { s3: aws.clients.s3 });
    await s3.put('trials/t1/trial.json', new TextEncoder().encode('{}'));
    expect(s3).toBeInstanceOf(S3ArtifactStore);
    expect(await new S3ArtifactStore({ client: aws.clients.s3, bucket }).list('')).toEqual(['exp1/trials/t1/trial.json']);

    const dir = mkdtempSync(join(tmpdir(), 'nasflow-url-'));
    expect(artifactStoreFromUrl(dir)).toBeInstanceOf(FsArtifactStore);
    expect((artifactStoreFromUrl(`file://${dir}`) as FsArtifactStore).root).toBe(dir);
    expect(() => artifactStoreFromUrl('s3://')).toThrow(/NASFLOW_ARTIFACTS/);
  });
});
