/**
 * AWS SDK v3 clients built from the environment, once per process: a Lambda
 * handler calls `awsClients()` at module scope and every warm invocation
 * reuses the same clients (and their keep-alive connections).
 *
 * Endpoints: `AWS_ENDPOINT_URL_DYNAMODB` / `_S3` / `_SQS`, else
 * `AWS_ENDPOINT_URL`, else the SDK's regional default. Region: `AWS_REGION`,
 * else `AWS_DEFAULT_REGION`, else `us-east-1`. Credentials come from the SDK's
 * default chain (the Lambda role on AWS; `AWS_ACCESS_KEY_ID` locally), or
 * from the keys in the env object given, when it is not `process.env`.
 * With a custom endpoint (the local test servers) S3 uses path-style URLs
 * and computes checksums only where an API requires them (s3rver does not
 * understand the SDK's default trailing checksums).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';

export type AwsService = 'dynamodb' | 's3' | 'sqs';

/** Where and as whom to connect; absent fields come from the SDK's defaults. */
export interface AwsClientConfig {
  readonly region: string;
  readonly endpoints: Partial<Record<AwsService, string>>;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
}

export interface AwsClients {
  readonly dynamo: DynamoDBClient;
  /** The document client over `dynamo` (native JS values, `undefined` dropped). */
  readonly doc: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
}

/** The client configuration the environment describes. */
export function awsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AwsClientConfig {
  const endpoints: Partial<Record<AwsService, string>> = {};
  for (const service of ['dynamodb', 's3', 'sqs'] as const) {
    const url = env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] ?? env.AWS_ENDPOINT_URL;
    if (url) endpoints[service] = url;
  }
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  // The SDK's default chain reads process.env itself; keys in another env object are passed on explicitly.
  if (env !== process.env && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    const credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
    return { region, endpoints, credentials };
  }
  return { region, endpoints };
}

function base(config: AwsClientConfig, service: AwsService) {
  const endpoint = config.endpoints[service];
  return {
    region: config.region,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(config.credentials === undefined ? {} : { credentials: { ...config.credentials } }),
  };
}

export function dynamoClient(config: AwsClientConfig): DynamoDBClient {
  return new DynamoDBClient(base(config, 'dynamodb'));
}

export function documentClient(dynamo: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
}

export function s3Client(config: AwsClientConfig): S3Client {
  const local = config.endpoints.s3 !== undefined;
  return new S3Client({
    ...base(config, 's3'),
    ...(local ? { forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
  });
}

export function sqsClient(config: AwsClientConfig): SQSClient {
  return new SQSClient(base(config, 'sqs'));
}

/** All four clients for one configuration. */
export function createAwsClients(config: AwsClientConfig): AwsClients {
  const dynamo = dynamoClient(config);
  return { dynamo, doc: documentClient(dynamo), s3: s3Client(config), sqs: sqsClient(config) };
}

let cached: { readonly key: string; readonly clients: AwsClients } | undefined;

/**
 * The process's clients for the environment's configuration, built on first
 * use and reused afterwards (built again only if the configuration changed,
 * as it does between tests that start their own local servers).
 */
export function awsClients(env: NodeJS.ProcessEnv = process.env): AwsClients {
  const config = awsConfigFromEnv(env);
  const key = JSON.stringify(config);
  if (cached === undefined || cached.key !== key) cached = { key, clients: createAwsClients(config) };
  return cached.clients;
}
