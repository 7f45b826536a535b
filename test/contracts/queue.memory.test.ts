import { MemoryQueue } from '../../shared/queue/memory.js';
import { queueContract } from './queue.contract.js';

queueContract('memory', async ({ maxReceiveCount, visibilityTimeoutSeconds }) => {
  // A clock the contract moves instead of sleeping.
  let t = Date.UTC(2026, 0, 1);
  const now = () => t;
  const dlq = new MemoryQueue({ now });
  return {
    queue: new MemoryQueue({ deadLetterQueue: dlq, maxReceiveCount, visibilityTimeoutSeconds, now }),
    dlq,
    advance: (ms) => {
      t += ms;
    },
  };
});
