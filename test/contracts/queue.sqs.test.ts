import { afterAll, beforeAll } from 'vitest';
import { SqsQueue } from '../../shared/aws/sqs-queue.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';
import { queueContract } from './queue.contract.js';

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws({ dynamo: false, s3: false });
});
afterAll(() => aws.stop());

queueContract('sqs (local-aws-sqs)', async (options) => {
  const { queueUrl, dlqUrl } = await aws.createQueues(options);
  return { queue: new SqsQueue({ client: aws.clients.sqs, queueUrl, dlqUrl }), dlq: new SqsQueue({ client: aws.clients.sqs, queueUrl: dlqUrl }) };
}, [
  // local-aws-sqs 2.0 reports in-flight messages in ApproximateNumberOfMessages; real SQS counts only visible ones there.
  'depth-visible-excludes-in-flight',
]);
