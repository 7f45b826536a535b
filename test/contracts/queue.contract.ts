/**
 * The `Queue` contract (`shared/queue/queue.ts`): the in-memory adapter and
 * SQS (against local-aws-sqs) run these same tests, with real time (short
 * visibility timeouts of 1 s).
 */
import { describe, expect, it } from 'vitest';
import type { Queue } from '../../shared/queue/queue.js';

/**
 * A fresh queue and its dead-letter queue, redriving after `maxReceiveCount`
 * receives. `advance` moves the adapter's clock instead of sleeping (adapters
 * on a real server leave it out and the tests wait for real).
 */
export type QueueFactory = (options: { readonly maxReceiveCount: number; readonly visibilityTimeoutSeconds: number }) => Promise<{
  readonly queue: Queue;
  readonly dlq: Queue;
  readonly advance?: (ms: number) => void;
}>;

/** Contract cases an adapter's server is known to break, run as expected failures (`it.fails`). */
export type QueueContractCase = 'depth-visible-excludes-in-flight';


export function queueContract(adapter: string, factory: QueueFactory, knownGaps: readonly QueueContractCase[] = []): void {
  const gap = (c: QueueContractCase): typeof it | typeof it.fails => (knownGaps.includes(c) ? it.fails : it);

  describe(`Queue contract: ${adapter}`, () => {
    let advance: ((ms: number) => void) | undefined;
    const setup: QueueFactory = async (options) => {
      const made = await factory(options);
      advance = made.advance;
      return made;
    };
    const sleep = async (ms: number): Promise<void> => {
      if (advance !== undefined) advance(ms);
      else await new Promise((r) => setTimeout(r, ms));
    };

    it('delivers a message with its attributes, and an acknowledged message never again', async () => {
      const { queue } = await setup({ maxReceiveCount: 3, visibilityTimeoutSeconds: 30 });
      const id = await queue.send('{"experimentId":"e1"}', { attributes: { kind: 'submit', tenant: 'a' } });

      const [m, ...rest] = await queue.receive({ max: 10, visibilityTimeoutSeconds: 1 });
      expect(rest).toEqual([]);
      expect(m).toMatchObject({ id, body: '{"experimentId":"e1"}', attributes: { kind: 'submit', tenant: 'a' }, receiveCount: 1 });
      await queue.ack(m!.receiptHandle);

      await sleep(1300);
      expect(await queue.receive({ max: 10 })).toEqual([]);
      expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    });

    it('delivers a message again once its visibility timeout expires without an ack', async () => {
      const { queue } = await setup({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
      const id = await queue.send('twice');

      const first = await queue.receive({ visibilityTimeoutSeconds: 1 });
      expect(await queue.receive()).toEqual([]);
      await sleep(1300);
      const second = await queue.receive({ visibilityTimeoutSeconds: 30 });

      expect(first.map((m) => [m.id, m.receiveCount])).toEqual([[id, 1]]);
      expect(second.map((m) => [m.id, m.body, m.receiveCount])).toEqual([[id, 'twice', 2]]);
      expect(second[0]!.receiptHandle).not.toBe(first[0]!.receiptHandle);
      await queue.ack(second[0]!.receiptHandle);
      expect((await queue.depth()).inFlight + (await queue.depth()).visible).toBe(0);
    });

    it('retryLater hides a message for the delay given, 0 making it visible at once', async () => {
      const { queue } = await setup({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
      await queue.send('later');
      const [m] = await queue.receive();

      await queue.retryLater(m!.receiptHandle, 0);
      const [again] = await queue.receive();
      expect(again?.body).toBe('later');
      await queue.retryLater(again!.receiptHandle, 120);

      expect(await queue.receive()).toEqual([]);
      expect((await queue.depth()).inFlight).toBe(1);
    });

    it('moves a message to the dead-letter queue after maxReceiveCount receives', async () => {
      const { queue, dlq } = await setup({ maxReceiveCount: 2, visibilityTimeoutSeconds: 30 });
      const id = await queue.send('poison', { attributes: { kind: 'submit' } });

      // Let the visibility timeout expire rather than calling retryLater: local-aws-sqs counts a
      // visibility change as a receive, real SQS does not.
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        const [m] = await queue.receive({ visibilityTimeoutSeconds: 1 });
        if (m === undefined) break;
        counts.push(m.receiveCount);
        await sleep(1200);
      }

      expect(counts).toEqual([1, 2]);
      const dead = await dlq.receive({ max: 10 });
      expect(dead.map((m) => [m.id, m.body, m.attributes.kind])).toEqual([[id, 'poison', 'submit']]);
      expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    });

    it('deadLetter sends a message to the dead-letter queue with its reason, and removes it here', async () => {
      const { queue, dlq } = await setup({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
      await queue.send('{"experimentId":"big"}', { attributes: { kind: 'submit' } });
      const [m] = await queue.receive({ visibilityTimeoutSeconds: 1 });

      await queue.deadLetter(m!, 'needs 16 GPUs, the account allows 4');

      await sleep(1300);
      expect(await queue.receive()).toEqual([]);
      const [dead] = await dlq.receive();
      expect(dead).toMatchObject({ body: '{"experimentId":"big"}', attributes: { kind: 'submit', reason: 'needs 16 GPUs, the account allows 4' } });
    });

    it('hands each visible message to one receiver, and counts in-flight and delayed messages', async () => {
      const { queue } = await setup({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
      for (let i = 0; i < 5; i++) await queue.send(`m${i}`);
      await queue.send('delayed', { delaySeconds: 60 });

      const [a, b] = await Promise.all([queue.receive({ max: 2 }), queue.receive({ max: 2 })]);
      const got = [...a!, ...b!].map((m) => m.body);

      expect(new Set(got).size).toBe(got.length);
      expect(got.length).toBeGreaterThanOrEqual(1);
      expect(got.every((b) => b !== 'delayed')).toBe(true);
      const depth = await queue.depth();
      expect([depth.inFlight, depth.delayed]).toEqual([got.length, 1]);
    });

    gap('depth-visible-excludes-in-flight')('counts as visible only the messages a receive could return now', async () => {
      const { queue } = await setup({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
      for (let i = 0; i < 3; i++) await queue.send(`m${i}`);
      await queue.receive({ max: 1 });

      expect(await queue.depth()).toEqual({ visible: 2, inFlight: 1, delayed: 0 });
    });

    it('a visibility timeout of 0 never hands one message out twice in one receive', async () => {
      const { queue } = await setup({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
      await queue.send('a');
      await queue.send('b');

      const got = await queue.receive({ max: 10, visibilityTimeoutSeconds: 0 });

      expect(got.map((m) => m.body).sort()).toEqual(['a', 'b']);
    });

    it('rejects out-of-range requests with an error naming the field', async () => {
      const { queue } = await setup({ maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
      await expect(queue.receive({ max: 11 })).rejects.toThrow(/max|MaxNumberOfMessages/i);
      await expect(queue.send('x', { delaySeconds: 901 })).rejects.toThrow(/delaySeconds|DelaySeconds/i);
    });
  });
}
