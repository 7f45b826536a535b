/**
 * `ArtifactStore` on S3: each key is an object `<prefix><key>` in one bucket.
 *
 * - A put is one `PutObject`: S3 replaces an object whole, so a reader sees the
 *   old bytes or the new ones, and concurrent puts leave one of them.
 * - A key never written (or one that is only a "folder" of other keys) is
 *   `NoSuchKey`, answered as `undefined`.
 * - `list` pages through `ListObjectsV2` (1,000 keys a page on S3; `pageSize`
 *   makes pages small in tests) and sorts, since S3's order is by UTF-8 bytes.
 * - SDK errors leave as `StoreError`s naming the bucket and key, the SDK error as `cause`.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Tagging, TAGS } from '../contract.js';
import { StoreError } from '../errors.js';
import type { ArtifactStore } from '../train/ports.js';

/** Tag on trial checkpoints, matched by the artifacts bucket's lifecycle rule (`TAGS.checkpoint` of the contract). */
export const CHECKPOINT_TAGGING = s3Tagging(TAGS.checkpoint);

export interface S3ArtifactStoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix inside the bucket (`runs/` → `runs/trials/t1/...`); a `/` is added if missing. Default: none. */
  readonly prefix?: string;
  /** Keys per `ListObjectsV2` page (S3's maximum and default is 1,000). */
  readonly pageSize?: number;
}

function isNoSuchKey(e: unknown): boolean {
  const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NoSuchKey' || err.Code === 'NoSuchKey' || (err.$metadata?.httpStatusCode === 404 && err.name !== 'NoSuchBucket');
}

export class S3ArtifactStore implements ArtifactStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly pageSize: number | undefined;

  constructor(options: S3ArtifactStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    const p = options.prefix ?? '';
    this.prefix = p === '' || p.endsWith('/') ? p : `${p}/`;
    this.pageSize = options.pageSize;
  }

  /** The store's location as a URL (`s3://bucket/prefix/`). */
  get url(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  private fail(what: string, key: string, e: unknown): StoreError {
    return new StoreError(`S3 ${what} s3://${this.bucket}/${this.prefix}${key} failed: ${(e as Error).message}`, { cause: e });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      if (out.Body === undefined) return new Uint8Array();
      return await out.Body.transformToByteArray();
    } catch (e) {
      if (isNoSuchKey(e)) return undefined;
      throw this.fail('get', key, e);
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    try {
      // A copy, so a caller changing its array while the request is in flight changes nothing stored.
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: bytes.slice(),
          ContentLength: bytes.byteLength,
          // The bucket's lifecycle rule expires objects with this tag (a suffix cannot be matched by a rule).
          ...(key.endsWith('/checkpoint.bin') ? { Tagging: CHECKPOINT_TAGGING } : {}),
        }),
      );
    } catch (e) {
      throw this.fail('put', key, e);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ...(token === undefined ? {} : { ContinuationToken: token }),
            ...(this.pageSize === undefined ? {} : { MaxKeys: this.pageSize }),
          }),
        );
        for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key.slice(this.prefix.length));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (e) {
      throw this.fail('list', prefix, e);
    }
    return keys.sort();
  }
}

/** Parses `s3://bucket/prefix` into its bucket and key prefix; `undefined` for any other URL or path. */
export function parseS3Url(url: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (m === null) return undefined;
  return { bucket: m[1]!, prefix: m[2]! };
}
