/**
 * The DynamoDB tables, as plain data: the CDK stack (`infra/`) creates exactly
 * these, the local test servers (`test/support/local-aws.ts`) create them from
 * `createTableInput`, and `DynamoExperimentStore` (`./dynamo-store.ts`) reads
 * and writes the items described here. Change the key schema only together
 * with the adapter.
 *
 * Both tables use generic string keys `pk`/`sk` and hold several item kinds
 * (each kind is documented in its file: `./dynamo-experiments.ts`,
 * `./dynamo-trials.ts`, `./dynamo-ledger.ts`, `./dynamo-lease.ts`,
 * `./admission.ts`):
 *
 * experiments table
 * | pk                | sk          | item                                              |
 * | `E#<experimentId>`| `META`      | the experiment, its state, version and lease     |
 * | `E#<experimentId>`| `LEDGER`    | budget counters and every reservation of it      |
 * | `E#<experimentId>`| `F#<n>`     | finishedSeq n claimed by one trial                |
 * | `R#<trialId>`     | `RES`       | which experiment a trial's reservation is in     |
 * | `ACCOUNT`         | `ADMISSIONS`| the admitted experiments (`./admission.ts`)      |
 *
 * trials table
 * | pk                | sk                     | item                                  |
 * | `E#<experimentId>`| `T#<seq, 12 digits>#<id>` | the trial                          |
 * | `I#<trialId>`     | `ID`                   | where the trial lives (experiment, seq) |
 *
 * Only `listExperiments` reads an index (`byCreated`, eventually consistent on
 * real DynamoDB); every other read is a strongly consistent GetItem/Query.
 */
import { ENV } from '../contract.js';
import { SpecError } from '../errors.js';

/** Environment variable names (`shared/contract.ts`). */
export { ENV };

export type AttributeType = 'S' | 'N' | 'B';

export interface KeyAttribute {
  readonly name: string;
  readonly type: AttributeType;
}

export interface GlobalIndexDesign {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** `KEYS_ONLY`, `ALL`, or `INCLUDE` with `nonKeyAttributes`. */
  readonly projection: 'KEYS_ONLY' | 'ALL' | 'INCLUDE';
  readonly nonKeyAttributes?: readonly string[];
}

export interface TableDesign {
  /** Construct id / short name (`Experiments`, `Trials`). */
  readonly id: string;
  /** The environment variable that carries the deployed table name. */
  readonly envVar: string;
  /** Name used by local servers and tests when none is given. */
  readonly defaultName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
  readonly globalSecondaryIndexes: readonly GlobalIndexDesign[];
  /** On-demand capacity (the stack also turns on PITR and encryption). */
  readonly billingMode: 'PAY_PER_REQUEST';
}

/** Name of the experiments-by-creation index and its keys. */
export const BY_CREATED_INDEX = 'byCreated';
export const BY_CREATED_PARTITION = 'EXPERIMENT';

export const EXPERIMENTS_TABLE: TableDesign = {
  id: 'Experiments',
  envVar: ENV.tableExperiments,
  defaultName: 'nasflow-experiments',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalSecondaryIndexes: [
    {
      // Every META item carries gsi1pk = 'EXPERIMENT' and gsi1sk = `<createdAt>#<id>`:
      // one partition, read newest first. Experiments are created a few per day,
      // so the single index partition is nowhere near its write limit.
      indexName: BY_CREATED_INDEX,
      partitionKey: { name: 'gsi1pk', type: 'S' },
      sortKey: { name: 'gsi1sk', type: 'S' },
      projection: 'KEYS_ONLY',
    },
  ],
  billingMode: 'PAY_PER_REQUEST',
};

export const TRIALS_TABLE: TableDesign = {
  id: 'Trials',
  envVar: ENV.tableTrials,
  defaultName: 'nasflow-trials',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalSecondaryIndexes: [],
  billingMode: 'PAY_PER_REQUEST',
};

export const TABLES: readonly TableDesign[] = [EXPERIMENTS_TABLE, TRIALS_TABLE];

/** The names of the two tables an experiment store uses. */
export interface TableNames {
  readonly experiments: string;
  readonly trials: string;
}

/**
 * A `CreateTableCommand` input for a design (structurally typed so this file
 * needs no SDK import: the CDK stack reads the same data).
 */
export function createTableInput(design: TableDesign, tableName: string = design.defaultName) {
  const attrs = new Map<string, AttributeType>();
  const add = (k: KeyAttribute | undefined): void => {
    if (k !== undefined) attrs.set(k.name, k.type);
  };
  add(design.partitionKey);
  add(design.sortKey);
  for (const g of design.globalSecondaryIndexes) {
    add(g.partitionKey);
    add(g.sortKey);
  }
  const keySchema = (pk: KeyAttribute, sk?: KeyAttribute) => [
    { AttributeName: pk.name, KeyType: 'HASH' as const },
    ...(sk === undefined ? [] : [{ AttributeName: sk.name, KeyType: 'RANGE' as const }]),
  ];
  return {
    TableName: tableName,
    BillingMode: design.billingMode,
    AttributeDefinitions: [...attrs].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
    KeySchema: keySchema(design.partitionKey, design.sortKey),
    ...(design.globalSecondaryIndexes.length === 0
      ? {}
      : {
          GlobalSecondaryIndexes: design.globalSecondaryIndexes.map((g) => ({
            IndexName: g.indexName,
            KeySchema: keySchema(g.partitionKey, g.sortKey),
            Projection: {
              ProjectionType: g.projection,
              ...(g.nonKeyAttributes === undefined ? {} : { NonKeyAttributes: [...g.nonKeyAttributes] }),
            },
          })),
        }),
  };
}

/** Table names from the environment (`TABLE_EXPERIMENTS`, `TABLE_TRIALS`); a `SpecError` names each missing variable. */
export function tableNamesFromEnv(env: NodeJS.ProcessEnv = process.env): TableNames {
  const missing = TABLES.filter((t) => !env[t.envVar]).map((t) => ({ path: t.envVar, message: 'must be set to a table name' }));
  if (missing.length > 0) throw new SpecError(missing, 'environment');
  return { experiments: env[EXPERIMENTS_TABLE.envVar]!, trials: env[TRIALS_TABLE.envVar]! };
}
