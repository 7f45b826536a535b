/**
 * The AWS adapters of the core's ports, and the factories that pick an
 * adapter from configuration. Only this folder imports the AWS SDK.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { SpecError } from '../errors.js';
import { FsArtifactStore, type ArtifactStore } from '../train/ports.js';
import { awsClients } from './clients.js';
import { DynamoExperimentStore } from './dynamo-store.js';
import { tableNamesFromEnv } from './tables.js';
import { parseS3Url, S3ArtifactStore } from './s3-artifacts.js';

export * from './clients.js';
export * from './tables.js';
export * from './s3-artifacts.js';
export * from './dynamo-store.js';
export * from './admission.js';

/**
 * The artifact store a URL names, as the trainer entrypoint reads it from
 * `NASFLOW_ARTIFACTS`: `s3://bucket/prefix` is an `S3ArtifactStore` (client
 * from the environment unless given), anything else a folder (`file://` or a path).
 */
export function artifactStoreFromUrl(url: string, options: { readonly s3?: S3Client } = {}): ArtifactStore {
  const s3 = parseS3Url(url);
  if (s3 === undefined && url.startsWith('s3:')) {
    throw new SpecError([{ path: 'NASFLOW_ARTIFACTS', message: `expected s3://bucket/prefix, got ${url}` }], 'artifacts location');
  }
  if (s3 !== undefined) return new S3ArtifactStore({ client: options.s3 ?? awsClients().s3, bucket: s3.bucket, prefix: s3.prefix });
  return new FsArtifactStore(url.startsWith('file://') ? new URL(url).pathname : url);
}

/** The DynamoDB experiment store the environment names (`TABLE_EXPERIMENTS`, `TABLE_TRIALS`; endpoint and region as `awsClients`). */
export function experimentStoreFromEnv(env: NodeJS.ProcessEnv = process.env): DynamoExperimentStore {
  return new DynamoExperimentStore({ client: awsClients(env).doc, tables: tableNamesFromEnv(env) });
}
