/**
 * The queue port: at-least-once delivery of small text messages, as SQS gives
 * it (the experiments queue that the `scheduler` consumes). Adapters: an
 * in-memory queue (`./memory.ts`, tests and local runs) and SQS
 * (`../aws/sqs-queue.ts`); both pass `test/contracts/queue.contract.ts`.
 *
 * The rules every adapter keeps:
 * - A received message is invisible for its visibility timeout; unless it is
 *   acknowledged in that time it is delivered again (with a higher
 *   `receiveCount` and a new receipt handle). Consumers must be idempotent.
 * - `retryLater` makes a received message visible again after a delay (0 = now):
 *   how a consumer says "not now" without failing.
 * - After `maxReceiveCount` receives without an acknowledgement, the next
 *   receive moves the message to the dead-letter queue instead (redrive).
 * - `deadLetter` moves a message there at once with a `reason` attribute,
 *   for a message that can never succeed. On SQS it sends before it
 *   acknowledges, so a crash in between leaves the message in both (delivered again, and
 *   dead-lettered again: a duplicate in the DLQ, never a loss).
 * - Depths are approximate (SQS counts lag by up to a minute).
 */

/** One delivery of a message. */
export interface QueueMessage {
  /** The message's id, the same on every delivery. */
  readonly id: string;
  readonly body: string;
  /** String attributes sent with the message (a dead-lettered message has `reason`). */
  readonly attributes: Readonly<Record<string, string>>;
  /** Handle of this delivery, for `ack` and `retryLater`. */
  readonly receiptHandle: string;
  /** 1 on the first delivery, 2 on the second, ... */
  readonly receiveCount: number;
}

export interface SendOptions {
  /** String attributes (at most 10; names must not start with `AWS.` or `Amazon.`). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** Invisible for this many seconds after sending (0–900). */
  readonly delaySeconds?: number;
}

export interface ReceiveOptions {
  /** At most this many messages (1–10, default 1). */
  readonly max?: number;
  /** Hidden from other receivers for this many seconds (default: the queue's). */
  readonly visibilityTimeoutSeconds?: number;
  /** Wait up to this many seconds for a message when none is visible (0–20, default 0). */
  readonly waitSeconds?: number;
}

export interface QueueDepth {
  /** Messages that a receive could return now. */
  readonly visible: number;
  /** Received and not yet acknowledged, nor visible again. */
  readonly inFlight: number;
  /** Sent with a delay that has not passed. */
  readonly delayed: number;
}

/** The attribute that carries why a message was dead-lettered. */
export const DEAD_LETTER_REASON = 'reason';

export interface Queue {
  /** Sends a message; returns its id. */
  send(body: string, options?: SendOptions): Promise<string>;
  /** Visible messages, oldest first as far as the queue keeps order (SQS standard queues keep it loosely). */
  receive(options?: ReceiveOptions): Promise<QueueMessage[]>;
  /** Deletes a received message: it is never delivered again. */
  ack(receiptHandle: string): Promise<void>;
  /** Makes a received message visible again after `delaySeconds` (0–43,200). */
  retryLater(receiptHandle: string, delaySeconds: number): Promise<void>;
  /** Sends a received message to the dead-letter queue with `reason`, then acknowledges it here. */
  deadLetter(message: QueueMessage, reason: string): Promise<void>;
  /** Approximate counts of messages. */
  depth(): Promise<QueueDepth>;
}
