import { afterAll, beforeAll, expect, it } from 'vitest';
import { experimentsQueueFromEnv } from '../../shared/aws/index.js';
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

it('the experiments queue from the environment (EXPERIMENTS_QUEUE_URL, DLQ_URL), as the scheduler builds it', async () => {
  const queue = experimentsQueueFromEnv({ ...aws.env });
  await queue.send('{"experimentId":"e1"}');
  const [m] = await queue.receive();
  await queue.deadLetter(m!, 'never fits the caps');

  const [dead] = await experimentsQueueFromEnv({ ...aws.env, EXPERIMENTS_QUEUE_URL: aws.dlqUrl }).receive();
  expect([dead?.body, dead?.attributes.reason]).toEqual(['{"experimentId":"e1"}', 'never fits the caps']);
  expect(() => experimentsQueueFromEnv({})).toThrow(/EXPERIMENTS_QUEUE_URL/);
});
