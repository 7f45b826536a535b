import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { TABLES, type KeyAttribute, type TableDesign } from '../../shared/aws/tables.js';
import { TAGS } from '../../shared/contract.js';
import { acknowledgeIam5 } from './nag.js';

/** Object tag the S3 artifact adapter puts on `trials/<id>/checkpoint.bin` (the contract's `TAGS.checkpoint`). */
export const CHECKPOINT_TAG = TAGS.checkpoint;

export interface ResultsStoreProps {
  /** Days after which a checkpoint object expires (it only matters while its trial can still run or be promoted). @default 30 */
  readonly checkpointRetentionDays?: number;
  /** What happens to tables and buckets when the stack is deleted. @default RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The DynamoDB actions the stores call (Get, Query, Put, Update: no Scan, no
 * Delete). `test/infra/security.test.ts` checks that every SDK command in
 * `shared/aws/` and `functions/` is granted, so a new call fails a test, not a deploy.
 */
export const TABLE_ITEM_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];

const attr = (k: KeyAttribute): dynamodb.Attribute => ({ name: k.name, type: dynamodb.AttributeType[k.type === 'S' ? 'STRING' : k.type === 'N' ? 'NUMBER' : 'BINARY'] });

/**
 * Where a search's results live: the DynamoDB tables of `shared/aws/tables.ts`
 * (on-demand, point-in-time recovery, AWS-managed encryption) and the
 * artifacts bucket (models, checkpoints, curves, reports: no public access,
 * S3-managed encryption, TLS only, server access logs, checkpoints expire).
 */
export class ResultsStore extends Construct {
  readonly tables: Readonly<Record<string, dynamodb.Table>>;
  readonly experiments: dynamodb.Table;
  readonly trials: dynamodb.Table;
  readonly artifacts: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: ResultsStoreProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const tables: Record<string, dynamodb.Table> = {};
    for (const design of TABLES) tables[design.id] = this.table(design, removalPolicy);
    this.tables = tables;
    this.experiments = tables.Experiments!;
    this.trials = tables.Trials!;

    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // Log delivery is granted by bucket policy (feature flag in cdk.json), so ACLs stay off.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
      removalPolicy,
    });
    Validations.of(this.accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log bucket of the artifacts bucket; logging it into itself would loop.',
    });

    this.artifacts = new s3.Bucket(this, 'Artifacts', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: [
        {
          // S3 lifecycle filters match a key prefix or object tags, not a suffix such as
          // trials/*/checkpoint.bin: the artifact adapter tags checkpoints instead.
          id: 'expire-checkpoints',
          tagFilters: { [CHECKPOINT_TAG.key]: CHECKPOINT_TAG.value },
          expiration: Duration.days(props.checkpointRetentionDays ?? 30),
        },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(2) },
      ],
      removalPolicy,
    });
  }

  /**
   * Item reads and writes on both tables and their named indexes (no Scan,
   * no Delete, no table administration). Written out instead of `grantReadWriteData`,
   * whose `dynamodb:*`-style wildcards and `index/*` this stack avoids.
   */
  grantTablesReadWrite(grantee: iam.IGrantable): void {
    const resources: string[] = [];
    for (const design of TABLES) {
      const table = this.tables[design.id]!;
      resources.push(table.tableArn, ...design.globalSecondaryIndexes.map((g) => `${table.tableArn}/index/${g.indexName}`));
    }
    iam.Grant.addToPrincipal({ grantee, actions: TABLE_ITEM_ACTIONS, resourceArns: resources });
  }

  /** Reading artifacts: list the bucket, get objects. */
  grantArtifactsRead(grantee: iam.IGrantable & IConstruct): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [this.artifacts.bucketArn] });
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [this.artifacts.arnForObjects('*')] });
    acknowledgeIam5(grantee, this.artifacts, '/*', 'Artifacts are objects of experiments and trials created at run time: object-level access to this one bucket cannot name them in advance.');
  }

  /** Reading and writing artifacts under `prefix` (`*` = all): put (with the checkpoint tag), get, list. Nothing deletes artifacts: the lifecycle rule expires checkpoints. */
  grantArtifactsReadWrite(grantee: iam.IGrantable & IConstruct, prefix = '*'): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [this.artifacts.bucketArn] });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject', 's3:PutObject', 's3:PutObjectTagging'],
      resourceArns: [this.artifacts.arnForObjects(prefix)],
    });
    acknowledgeIam5(grantee, this.artifacts, `/${prefix}`, 'Artifacts are objects of experiments and trials created at run time: object-level access to this one bucket (under this prefix) cannot name them in advance.');
  }

  private table(design: TableDesign, removalPolicy: RemovalPolicy): dynamodb.Table {
    const table = new dynamodb.Table(this, design.id, {
      partitionKey: attr(design.partitionKey),
      sortKey: attr(design.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy,
    });
    for (const g of design.globalSecondaryIndexes) {
      table.addGlobalSecondaryIndex({
        indexName: g.indexName,
        partitionKey: attr(g.partitionKey),
        ...(g.sortKey === undefined ? {} : { sortKey: attr(g.sortKey) }),
        projectionType: dynamodb.ProjectionType[g.projection],
        ...(g.nonKeyAttributes === undefined ? {} : { nonKeyAttributes: [...g.nonKeyAttributes] }),
      });
    }
    return table;
  }
}
