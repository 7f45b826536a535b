/**
 * A `Queue` in a SQLite file (better-sqlite3), with SQS's delivery rules:
 * several processes may send and receive on one file. A queue and its
 * dead-letter queue are two names in the same table, so a redrive is one
 * UPDATE. Each receive runs in a `BEGIN IMMEDIATE` transaction, so two
 * receivers never get the same visible message.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { SpecError, StoreBusyError, StoreError } from '../errors.js';
import type { Now } from '../store/experiment-store.js';
import { checkRange, receiveByPolling } from './memory.js';
import { DEAD_LETTER_REASON, type Queue, type QueueDepth, type QueueMessage, type ReceiveOptions, type SendOptions } from './queue.js';

export interface SqliteQueueOptions {
  /** The queue's name in the file (several queues may share one file). */
  readonly name: string;
  /** Default visibility timeout in seconds (default 30). */
  readonly visibilityTimeoutSeconds?: number;
  /** Redrive to the queue of this name after `maxReceiveCount` receives; also where `deadLetter` sends. */
  readonly deadLetter?: { readonly name: string; readonly maxReceiveCount: number };
  readonly now?: Now;
  /** How long to wait for another process's write lock (default 10 s). */
  readonly busyTimeoutMs?: number;
}

interface Row {
  id: string;
  body: string;
  attributes: string;
  visible_at: number;
  receive_count: number;
}

export class SqliteQueue implements Queue {
  private readonly db: Database.Database;
  private readonly name: string;
  private readonly visibilityTimeout: number;
  private readonly dlq: SqliteQueueOptions['deadLetter'];
  private readonly now: Now;

  /** Opens (and creates if needed) the queue table in the SQLite file at `path`. */
  constructor(path: string, options: SqliteQueueOptions) {
    this.name = options.name;
    this.visibilityTimeout = options.visibilityTimeoutSeconds ?? 30;
    this.dlq = options.deadLetter;
    this.now = options.now ?? Date.now;
    if (this.dlq !== undefined) checkRange(this.dlq.maxReceiveCount, 'deadLetter.maxReceiveCount', 1, 1000);
    try {
      this.db = new Database(path);
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000))}`);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS queue_messages (
          id TEXT PRIMARY KEY,
          queue TEXT NOT NULL,
          body TEXT NOT NULL,
          attributes TEXT NOT NULL,
          visible_at INTEGER NOT NULL,
          receive_count INTEGER NOT NULL DEFAULT 0,
          receipt TEXT
        );
        CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at);
        CREATE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages (receipt);
      `);
    } catch (e) {
      throw new StoreError(`cannot open the queue file ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  private run<T>(what: string, fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_BUSY') throw new StoreBusyError(`queue ${this.name}: ${what}: the file stayed locked`, { cause: e });
      throw e instanceof SpecError || e instanceof StoreError ? e : new StoreError(`queue ${this.name}: ${what} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private insert(queue: string, body: string, attributes: Readonly<Record<string, string>>, visibleAt: number): string {
    const id = randomUUID();
    this.db
      .prepare('INSERT INTO queue_messages (id, queue, body, attributes, visible_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, queue, body, JSON.stringify(attributes), visibleAt);
    return id;
  }

  async send(body: string, options: SendOptions = {}): Promise<string> {
    checkRange(options.delaySeconds, 'delaySeconds', 0, 900);
    return this.run('send', () => this.insert(this.name, body, { ...options.attributes }, this.now() + (options.delaySeconds ?? 0) * 1000));
  }

  private take(max: number, visibility: number): QueueMessage[] {
    return this.run('receive', () => {
      const t = this.now();
      const out: QueueMessage[] = [];
      // Taken ids are excluded, so a visibility timeout of 0 cannot hand one message out twice in one receive.
      const next = this.db.prepare(
        'SELECT id, body, attributes, visible_at, receive_count FROM queue_messages WHERE queue = ? AND visible_at <= ? AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY rowid LIMIT 1',
      );
      while (out.length < max) {
        const row = next.get(this.name, t, JSON.stringify(out.map((m) => m.id))) as Row | undefined;
        if (row === undefined) break;
        if (this.dlq !== undefined && row.receive_count >= this.dlq.maxReceiveCount) {
          // Redrive: the receive that would exceed maxReceiveCount moves the message instead.
          this.db.prepare('UPDATE queue_messages SET queue = ?, receive_count = 0, receipt = NULL, visible_at = ? WHERE id = ?').run(this.dlq.name, t, row.id);
          continue;
        }
        const receipt = `${row.id}:${row.receive_count + 1}:${randomUUID()}`;
        this.db
          .prepare('UPDATE queue_messages SET receive_count = receive_count + 1, receipt = ?, visible_at = ? WHERE id = ?')
          .run(receipt, t + visibility * 1000, row.id);
        out.push({ id: row.id, body: row.body, attributes: JSON.parse(row.attributes) as Record<string, string>, receiptHandle: receipt, receiveCount: row.receive_count + 1 });
      }
      return out;
    });
  }

  receive(options: ReceiveOptions = {}): Promise<QueueMessage[]> {
    return receiveByPolling(options, this.visibilityTimeout, (max, visibility) => this.take(max, visibility), 50);
  }

  async ack(receiptHandle: string): Promise<void> {
    this.run('ack', () => this.db.prepare('DELETE FROM queue_messages WHERE queue = ? AND receipt = ?').run(this.name, receiptHandle));
  }

  async retryLater(receiptHandle: string, delaySeconds: number): Promise<void> {
    checkRange(delaySeconds, 'delaySeconds', 0, 43_200);
    this.run('retry later', () =>
      this.db.prepare('UPDATE queue_messages SET visible_at = ? WHERE queue = ? AND receipt = ?').run(this.now() + delaySeconds * 1000, this.name, receiptHandle),
    );
  }

  async deadLetter(message: QueueMessage, reason: string): Promise<void> {
    const dlq = this.dlq;
    if (dlq === undefined) throw new SpecError([{ path: 'deadLetter', message: 'this queue has none' }], 'queue options');
    // One transaction here, so the send and the ack cannot be split by a crash.
    this.run('dead-letter', () => {
      this.insert(dlq.name, message.body, { ...message.attributes, [DEAD_LETTER_REASON]: reason }, this.now());
      this.db.prepare('DELETE FROM queue_messages WHERE queue = ? AND receipt = ?').run(this.name, message.receiptHandle);
    });
  }

  async depth(): Promise<QueueDepth> {
    const t = this.now();
    const row = this.db
      .prepare(
        `SELECT COALESCE(SUM(visible_at <= ?), 0) AS visible,
                COALESCE(SUM(visible_at > ? AND receive_count > 0), 0) AS inFlight,
                COALESCE(SUM(visible_at > ? AND receive_count = 0), 0) AS delayed
           FROM queue_messages WHERE queue = ?`,
      )
      .get(t, t, t, this.name) as QueueDepth;
    return { visible: row.visible, inFlight: row.inFlight, delayed: row.delayed };
  }

  close(): void {
    this.db.close();
  }
}
