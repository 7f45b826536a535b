import { afterAll, beforeAll } from 'vitest';
import { DynamoExperimentStore } from '../../shared/aws/dynamo-store.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';
import { experimentStoreContract } from './experiment-store.contract.js';

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws({ s3: false, sqs: false });
});
afterAll(() => aws.stop());

// Fresh tables per store: the contract wants an empty store for each test.
experimentStoreContract('dynamodb (dynalite)', async ({ now }) => new DynamoExperimentStore({ client: aws.clients.doc, tables: await aws.createTables(), now }));
