import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface ExperimentQueueProps {
  /** How often a message is received before it moves to the DLQ. With a 5-minute visibility timeout, 100 receives let an experiment wait ~8 h for capacity. @default 100 */
  readonly maxReceiveCount?: number;
  /** Visibility timeout: the wait before a message the scheduler could not start yet is offered again. @default 5 minutes */
  readonly visibilityTimeout?: Duration;
}

/**
 * The queue of submitted experiments (`{ experimentId }`, sent by `api`,
 * consumed by `scheduler`) and its dead-letter queue, both SQS-managed
 * encrypted and TLS only.
 */
export class ExperimentQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: ExperimentQueueProps = {}) {
    super(scope, id);
    this.maxReceiveCount = props.maxReceiveCount ?? 100;
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Experiments', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout ?? Duration.minutes(5),
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    });
  }
}
