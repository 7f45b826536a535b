/**
 * An in-memory `Queue` with SQS's delivery rules: visibility timeouts,
 * receive counts, redrive to a dead-letter queue after `maxReceiveCount`
 * receives. One process only (tests, and local runs that need no durability).
 */
import { randomUUID } from 'node:crypto';
import { SpecError } from '../errors.js';
import type { Now } from '../store/experiment-store.js';
import { DEAD_LETTER_REASON, type Queue, type QueueDepth, type QueueMessage, type ReceiveOptions, type SendOptions } from './queue.js';

interface Stored {
  readonly id: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly sentAt: number;
  visibleAt: number;
  receiveCount: number;
  receipt?: string;
}

export interface MemoryQueueOptions {
  /** Default visibility timeout in seconds (SQS's default: 30). */
  readonly visibilityTimeoutSeconds?: number;
  /** Where messages go after `maxReceiveCount` receives, and where `deadLetter` sends. */
  readonly deadLetterQueue?: MemoryQueue;
  readonly maxReceiveCount?: number;
  readonly now?: Now;
}

/** Throws a `SpecError` naming `path` unless `value` is absent or an integer in [min, max]. */
export function checkRange(value: number | undefined, path: string, min: number, max: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
    throw new SpecError([{ path, message: `must be an integer from ${min} to ${max}, got ${value}` }], 'queue request');
  }
}

/**
 * `receive` for queues that are polled: checks the options, then takes up to
 * `max` visible messages, waiting up to `waitSeconds` (polling every `pollMs`)
 * while there are none — SQS's long polling, for the embedded adapters.
 */
export async function receiveByPolling(
  options: ReceiveOptions,
  defaultVisibilitySeconds: number,
  take: (max: number, visibilitySeconds: number) => QueueMessage[],
  pollMs: number,
): Promise<QueueMessage[]> {
  checkRange(options.max, 'max', 1, 10);
  checkRange(options.visibilityTimeoutSeconds, 'visibilityTimeoutSeconds', 0, 43_200);
  checkRange(options.waitSeconds, 'waitSeconds', 0, 20);
  const deadline = Date.now() + (options.waitSeconds ?? 0) * 1000;
  for (;;) {
    const got = take(options.max ?? 1, options.visibilityTimeoutSeconds ?? defaultVisibilitySeconds);
    if (got.length > 0 || Date.now() >= deadline) return got;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export class MemoryQueue implements Queue {
  private messages: Stored[] = [];
  private readonly visibilityTimeout: number;
  private readonly dlq: MemoryQueue | undefined;
  private readonly maxReceiveCount: number | undefined;
  private readonly now: Now;

  constructor(options: MemoryQueueOptions = {}) {
    this.visibilityTimeout = options.visibilityTimeoutSeconds ?? 30;
    this.dlq = options.deadLetterQueue;
    this.maxReceiveCount = options.maxReceiveCount;
    this.now = options.now ?? Date.now;
    if (this.dlq !== undefined && this.maxReceiveCount === undefined) {
      throw new SpecError([{ path: 'maxReceiveCount', message: 'is required with a deadLetterQueue' }], 'queue options');
    }
  }

  async send(body: string, options: SendOptions = {}): Promise<string> {
    checkRange(options.delaySeconds, 'delaySeconds', 0, 900);
    const id = randomUUID();
    const t = this.now();
    this.messages.push({ id, body, attributes: { ...options.attributes }, sentAt: t, visibleAt: t + (options.delaySeconds ?? 0) * 1000, receiveCount: 0 });
    return id;
  }

  private take(max: number, visibility: number): QueueMessage[] {
    const t = this.now();
    const out: QueueMessage[] = [];
    for (const m of [...this.messages]) {
      if (out.length >= max) break;
      if (m.visibleAt > t) continue;
      if (this.dlq !== undefined && this.maxReceiveCount !== undefined && m.receiveCount >= this.maxReceiveCount) {
        // Redrive: the receive that would exceed maxReceiveCount moves the message instead.
        this.messages = this.messages.filter((x) => x !== m);
        this.dlq.messages.push({ id: m.id, body: m.body, attributes: m.attributes, sentAt: m.sentAt, visibleAt: t, receiveCount: 0 });
        continue;
      }
      m.receiveCount += 1;
      m.receipt = `${m.id}:${m.receiveCount}:${randomUUID()}`;
      m.visibleAt = t + visibility * 1000;
      out.push({ id: m.id, body: m.body, attributes: { ...m.attributes }, receiptHandle: m.receipt, receiveCount: m.receiveCount });
    }
    return out;
  }

  receive(options: ReceiveOptions = {}): Promise<QueueMessage[]> {
    return receiveByPolling(options, this.visibilityTimeout, (max, visibility) => this.take(max, visibility), 20);
  }

  private byReceipt(receiptHandle: string): Stored | undefined {
    return this.messages.find((m) => m.receipt === receiptHandle);
  }

  async ack(receiptHandle: string): Promise<void> {
    const m = this.byReceipt(receiptHandle);
    if (m !== undefined) this.messages = this.messages.filter((x) => x !== m);
  }

  async retryLater(receiptHandle: string, delaySeconds: number): Promise<void> {
    checkRange(delaySeconds, 'delaySeconds', 0, 43_200);
    const m = this.byReceipt(receiptHandle);
    if (m !== undefined) m.visibleAt = this.now() + delaySeconds * 1000;
  }

  async deadLetter(message: QueueMessage, reason: string): Promise<void> {
    if (this.dlq === undefined) throw new SpecError([{ path: 'deadLetterQueue', message: 'this queue has none' }], 'queue options');
    await this.dlq.send(message.body, { attributes: { ...message.attributes, [DEAD_LETTER_REASON]: reason } });
    await this.ack(message.receiptHandle);
  }

  async depth(): Promise<QueueDepth> {
    const t = this.now();
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    for (const m of this.messages) {
      if (m.visibleAt <= t) visible++;
      else if (m.receiveCount > 0) inFlight++;
      else delayed++;
    }
    return { visible, inFlight, delayed };
  }
}
