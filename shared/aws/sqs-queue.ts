/**
 * The queue port on SQS (standard queues; the JSON protocol of SDK v3).
 * Redrive after `maxReceiveCount` is the queue's own `RedrivePolicy` (set by
 * the CDK stack, or by `test/support/local-aws.ts`); `deadLetter` sends to
 * `dlqUrl` with a `reason` message attribute and then deletes the message.
 * SDK errors leave as `StoreError`s naming the queue, the SDK error as `cause`.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { NasError, SpecError, StoreError } from '../errors.js';
import { DEAD_LETTER_REASON, type Queue, type QueueDepth, type QueueMessage, type ReceiveOptions, type SendOptions } from '../queue/queue.js';

export interface SqsQueueOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /** The dead-letter queue `deadLetter` sends to (`DLQ_URL`). */
  readonly dlqUrl?: string;
}

export class SqsQueue implements Queue {
  readonly queueUrl: string;
  readonly dlqUrl: string | undefined;
  private readonly client: SQSClient;

  constructor(options: SqsQueueOptions) {
    this.client = options.client;
    this.queueUrl = options.queueUrl;
    this.dlqUrl = options.dlqUrl;
  }

  private async call<T>(what: string, queueUrl: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof NasError) throw e;
      const err = e as { name?: string; message?: string };
      throw new StoreError(`SQS ${what} on ${queueUrl} failed: ${err.name ?? 'Error'}: ${err.message}`, { cause: e });
    }
  }

  private sendTo(queueUrl: string, body: string, options: SendOptions): Promise<string> {
    const attrs: Record<string, MessageAttributeValue> = {};
    for (const [k, v] of Object.entries(options.attributes ?? {})) attrs[k] = { DataType: 'String', StringValue: v };
    return this.call('send', queueUrl, async () => {
      const out = await this.client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: body,
          ...(Object.keys(attrs).length > 0 ? { MessageAttributes: attrs } : {}),
          ...(options.delaySeconds === undefined ? {} : { DelaySeconds: options.delaySeconds }),
        }),
      );
      return out.MessageId!;
    });
  }

  send(body: string, options: SendOptions = {}): Promise<string> {
    return this.sendTo(this.queueUrl, body, options);
  }

  async receive(options: ReceiveOptions = {}): Promise<QueueMessage[]> {
    const out = await this.call('receive', this.queueUrl, () =>
      this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: options.max ?? 1,
          WaitTimeSeconds: options.waitSeconds ?? 0,
          ...(options.visibilityTimeoutSeconds === undefined ? {} : { VisibilityTimeout: options.visibilityTimeoutSeconds }),
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          // The older name of the same request field: local-aws-sqs reads only this one.
          AttributeNames: ['All'],
        }),
      ),
    );
    // One entry per message, the last delivery winning: with a visibility timeout of 0 local-aws-sqs
    // repeats a message within one response; SQS itself never does, so this changes nothing there.
    const latest = new Map((out.Messages ?? []).map((m) => [m.MessageId, m]));
    return [...latest.values()].map((m) => {
      const attributes: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.MessageAttributes ?? {})) if (v.StringValue !== undefined) attributes[k] = v.StringValue;
      return {
        id: m.MessageId!,
        body: m.Body ?? '',
        attributes,
        receiptHandle: m.ReceiptHandle!,
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
      };
    });
  }

  async ack(receiptHandle: string): Promise<void> {
    await this.call('delete', this.queueUrl, () => this.client.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle })));
  }

  async retryLater(receiptHandle: string, delaySeconds: number): Promise<void> {
    await this.call('change visibility', this.queueUrl, () =>
      this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: delaySeconds })),
    );
  }

  async deadLetter(message: QueueMessage, reason: string): Promise<void> {
    if (this.dlqUrl === undefined) throw new SpecError([{ path: 'DLQ_URL', message: 'must be set to dead-letter a message' }], 'queue');
    await this.sendTo(this.dlqUrl, message.body, { attributes: { ...message.attributes, [DEAD_LETTER_REASON]: reason } });
    await this.ack(message.receiptHandle);
  }

  async depth(): Promise<QueueDepth> {
    const out = await this.call('get attributes', this.queueUrl, () =>
      this.client.send(
        new GetQueueAttributesCommand({
          QueueUrl: this.queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      ),
    );
    const n = (k: string): number => Number(out.Attributes?.[k as keyof typeof out.Attributes] ?? 0);
    return { visible: n('ApproximateNumberOfMessages'), inFlight: n('ApproximateNumberOfMessagesNotVisible'), delayed: n('ApproximateNumberOfMessagesDelayed') };
  }
}
