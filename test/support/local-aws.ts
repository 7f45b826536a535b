/**
 * Local AWS-compatible servers for tests, on 127.0.0.1 at free random ports:
 *
 * - DynamoDB: `dynalite`, in this process (in-memory; no TransactWriteItems).
 * - S3: `s3rver`, in a child process started with `--openssl-legacy-provider`
 *   (and with atomic object writes, as S3 has; see `S3RVER_CHILD`):
 *   s3rver encrypts ListObjectsV2 continuation tokens with DES, which
 *   OpenSSL 3 (Node ≥ 17) only offers through its legacy provider, and a
 *   provider can only be loaded at process start. In this process every
 *   truncated listing would fail with `digital envelope routines::unsupported`.
 *   The child ends when this process closes its stdin (also if it dies).
 * - SQS: `local-aws-sqs`, in this process (JSON protocol, redrive to a DLQ).
 *   Two differences from SQS to know: a ChangeMessageVisibility counts as a
 *   receive towards `maxReceiveCount`, and `ApproximateNumberOfMessages`
 *   includes in-flight messages.
 *
 * Use one server set per test file:
 *
 * ```ts
 * let aws: LocalAws;
 * beforeAll(async () => { aws = await startLocalAws({ dynamo: true, s3: true, sqs: true }); });
 * afterAll(() => aws.stop());
 * // aws.clients.doc / .s3 / .sqs, aws.tables, aws.bucket, aws.queueUrl, aws.dlqUrl,
 * // aws.env (TABLE_*, ARTIFACTS_BUCKET, *_QUEUE_URL, AWS_ENDPOINT_URL_*, region, dummy credentials)
 * ```
 *
 * `createTables()`, `createBucket()` and `createQueues()` make further fresh,
 * uniquely named resources (a contract suite wants an empty store per test).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createSqsServer } from 'local-aws-sqs';
import { createAwsClients, type AwsClientConfig, type AwsClients } from '../../shared/aws/clients.js';
import { createTableInput, ENV, EXPERIMENTS_TABLE, TRIALS_TABLE, type TableNames } from '../../shared/aws/tables.js';

export interface LocalAwsOptions {
  /** Start dynalite and create the two tables (default true). */
  readonly dynamo?: boolean;
  /** Start s3rver and create the artifacts bucket (default true). */
  readonly s3?: boolean;
  /** Start local-aws-sqs and create the experiments queue and its DLQ (default true). */
  readonly sqs?: boolean;
  /** Receives before a message moves to the DLQ (default 3). */
  readonly maxReceiveCount?: number;
  /** The experiments queue's default visibility timeout in seconds (default 30). */
  readonly visibilityTimeoutSeconds?: number;
}

export interface QueuePair {
  readonly queueUrl: string;
  readonly dlqUrl: string;
}

export interface LocalAws {
  /** `http://127.0.0.1:<port>` of each server started. */
  readonly endpoints: Partial<Record<'dynamodb' | 's3' | 'sqs', string>>;
  /** Region us-east-1, dummy credentials, the endpoints above, path-style S3. */
  readonly config: AwsClientConfig;
  /** SDK clients for the servers (a client of a server not started fails on use). */
  readonly clients: AwsClients;
  readonly tables: TableNames;
  readonly bucket: string;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  /**
   * The environment a handler or the trainer needs to use these servers:
   * `TABLE_EXPERIMENTS`, `TABLE_TRIALS`, `ARTIFACTS_BUCKET`, `EXPERIMENTS_QUEUE_URL`,
   * `DLQ_URL`, `AWS_ENDPOINT_URL_*`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Fresh, empty experiment and trial tables with unique names. */
  createTables(): Promise<TableNames>;
  /** A fresh, empty bucket with a unique name. */
  createBucket(): Promise<string>;
  /** A fresh queue with a DLQ after `maxReceiveCount` receives. */
  createQueues(options?: { readonly maxReceiveCount?: number; readonly visibilityTimeoutSeconds?: number }): Promise<QueuePair>;
  /** Stops every server (idempotent). */
  stop(): Promise<void>;
}

const REGION = 'us-east-1';
/** s3rver checks signatures against these; dynalite and local-aws-sqs accept anything. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

const require = createRequire(import.meta.url);

interface DynaliteOptions {
  readonly createTableMs?: number;
  readonly deleteTableMs?: number;
  readonly updateTableMs?: number;
}
const dynalite = require('dynalite') as (options: DynaliteOptions) => Server;

let counter = 0;
/** A name unique in this process and across processes sharing a server. */
function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

/**
 * The s3rver child: prints `{"port":N}` once listening, exits when its stdin
 * closes or on SIGTERM. s3rver writes an object straight into its final file,
 * so concurrent puts to one key interleave; S3 replaces an object whole, so
 * the child makes s3rver write a temporary file and rename it (a reader keeps
 * the file it opened: old bytes or new, never a mix).
 */
const S3RVER_CHILD = `
const fs = require('node:fs'), os = require('node:os'), path = require('node:path'), crypto = require('node:crypto');
const S3rver = require('s3rver');
const FilesystemStore = require('s3rver/lib/stores/filesystem');
let tmpCounter = 0;
FilesystemStore.prototype.putObject = async function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
  const tmp = objectPath + '.' + (++tmpCounter) + '.tmp';
  const md5 = crypto.createHash('md5');
  let size = 0;
  await new Promise((resolve, reject) => {
    const out = fs.createWriteStream(tmp).on('finish', resolve).on('error', reject);
    if (Buffer.isBuffer(object.content)) {
      md5.update(object.content);
      size = object.content.length;
      out.end(object.content);
    } else {
      object.content.on('error', reject).on('data', (c) => { md5.update(c); size += c.length; }).pipe(out);
    }
  });
  await fs.promises.rename(tmp, objectPath);
  const digest = md5.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nasflow-s3rver-'));
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, allowMismatchedSignatures: true });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.close().catch(() => {}).finally(() => { fs.rmSync(dir, { recursive: true, force: true }); process.exit(0); });
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
server.run().then((a) => process.stdout.write(JSON.stringify({ port: a.port }) + '\\n'), (e) => { console.error(e); process.exit(1); });
`;

async function startS3rver(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', S3RVER_CHILD], {
    cwd: PROJECT_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 20 s: ${stderr}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) {
        clearTimeout(timer);
        try {
          resolve((JSON.parse(line) as { port: number }).port);
        } catch (e) {
          reject(new Error(`s3rver printed ${line}`, { cause: e }));
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code}: ${stderr}`));
    });
  });
  // The child must never keep the test process alive.
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return { port, child };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdin?.end();
  });
}

/** Starts the servers asked for (all three by default) and creates the default tables, bucket and queues. */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const want = { dynamo: options.dynamo ?? true, s3: options.s3 ?? true, sqs: options.sqs ?? true };
  const servers: Server[] = [];
  const children: ChildProcess[] = [];
  const endpoints: Partial<Record<'dynamodb' | 's3' | 'sqs', string>> = {};
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    clients?.dynamo.destroy();
    clients?.s3.destroy();
    clients?.sqs.destroy();
    await Promise.all([...servers.map(closeServer), ...children.map(stopChild)]);
  };
  let clients: AwsClients | undefined;

  try {
    await Promise.all([
      (async () => {
        if (!want.dynamo) return;
        const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
        servers.push(server);
        endpoints.dynamodb = `http://127.0.0.1:${await listen(server)}`;
      })(),
      (async () => {
        if (!want.s3) return;
        const { port, child } = await startS3rver();
        children.push(child);
        endpoints.s3 = `http://127.0.0.1:${port}`;
      })(),
      (async () => {
        if (!want.sqs) return;
        const server = await createSqsServer({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
        servers.push(server);
        endpoints.sqs = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      })(),
    ]);

    const config: AwsClientConfig = { region: REGION, endpoints, credentials: CREDENTIALS };
    const c = createAwsClients(config);
    clients = c;

    const createTables = async (): Promise<TableNames> => {
      if (!want.dynamo) throw new Error('startLocalAws: dynamo was not started');
      const names = { experiments: uniqueName('experiments'), trials: uniqueName('trials') };
      await c.dynamo.send(new CreateTableCommand(createTableInput(EXPERIMENTS_TABLE, names.experiments)));
      await c.dynamo.send(new CreateTableCommand(createTableInput(TRIALS_TABLE, names.trials)));
      return names;
    };
    const createBucket = async (): Promise<string> => {
      if (!want.s3) throw new Error('startLocalAws: s3 was not started');
      const name = uniqueName('artifacts').toLowerCase();
      await c.s3.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    };
    const createQueues: LocalAws['createQueues'] = async (o = {}) => {
      if (!want.sqs) throw new Error('startLocalAws: sqs was not started');
      const name = uniqueName('experiments');
      const dlq = await c.sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
      const dlqArn = (await c.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl!, AttributeNames: ['QueueArn'] }))).Attributes
        ?.QueueArn;
      const queue = await c.sqs.send(
        new CreateQueueCommand({
          QueueName: name,
          Attributes: {
            VisibilityTimeout: String(o.visibilityTimeoutSeconds ?? options.visibilityTimeoutSeconds ?? 30),
            RedrivePolicy: JSON.stringify({ maxReceiveCount: o.maxReceiveCount ?? options.maxReceiveCount ?? 3, deadLetterTargetArn: dlqArn }),
          },
        }),
      );
      return { queueUrl: queue.QueueUrl!, dlqUrl: dlq.QueueUrl! };
    };

    const [tables, bucket, queues] = await Promise.all([
      want.dynamo ? createTables() : Promise.resolve({ experiments: '', trials: '' }),
      want.s3 ? createBucket() : Promise.resolve(''),
      want.sqs ? createQueues() : Promise.resolve({ queueUrl: '', dlqUrl: '' }),
    ]);

    const env: Record<string, string> = {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    };
    if (endpoints.dynamodb) Object.assign(env, { AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb, [ENV.tableExperiments]: tables.experiments, [ENV.tableTrials]: tables.trials });
    if (endpoints.s3) Object.assign(env, { AWS_ENDPOINT_URL_S3: endpoints.s3, [ENV.artifactsBucket]: bucket });
    if (endpoints.sqs) Object.assign(env, { AWS_ENDPOINT_URL_SQS: endpoints.sqs, [ENV.experimentsQueueUrl]: queues.queueUrl, [ENV.dlqUrl]: queues.dlqUrl });

    return { endpoints, config, clients: c, tables, bucket, queueUrl: queues.queueUrl, dlqUrl: queues.dlqUrl, env, createTables, createBucket, createQueues, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
