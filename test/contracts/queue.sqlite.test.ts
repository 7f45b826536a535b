import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteQueue } from '../../shared/queue/sqlite.js';
import { queueContract } from './queue.contract.js';

// A real file in WAL mode; the queue and its dead-letter queue share it.
queueContract('sqlite', async ({ maxReceiveCount, visibilityTimeoutSeconds }) => {
  const file = join(mkdtempSync(join(tmpdir(), 'nasflow-queue-')), 'queue.db');
  let t = Date.UTC(2026, 0, 1);
  const now = () => t;
  return {
    queue: new SqliteQueue(file, { name: 'experiments', visibilityTimeoutSeconds, deadLetter: { name: 'experiments-dlq', maxReceiveCount }, now }),
    dlq: new SqliteQueue(file, { name: 'experiments-dlq', now }),
    advance: (ms) => {
      t += ms;
    },
  };
});
