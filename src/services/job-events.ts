import { EventEmitter } from 'node:events';
import pg from 'pg';

/**
 * One LISTEN connection per API process for channel matmoe_jobs (see migrations/003_job_notify.sql); subscribers are
 * told the id of each job that changed. Reconnects after a lost connection; subscribers then re-read their job.
 */
export class JobEvents {
  private readonly emitter = new EventEmitter();
  private client: pg.Client | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private attempt = 0;

  constructor(private readonly databaseUrl: string, private readonly onError: (err: Error) => void = () => {}) {
    this.emitter.setMaxListeners(0);
  }

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('notification', (msg) => {
      if (msg.channel === 'matmoe_jobs' && msg.payload) this.emitter.emit(msg.payload);
    });
    client.on('error', (err) => {
      this.onError(err);
      this.reconnect();
    });
    client.on('end', () => this.reconnect());
    await client.connect();
    await client.query('LISTEN matmoe_jobs');
    this.client = client;
    this.attempt = 0;
  }

  /** Retries with exponential backoff (1 s doubling to 30 s); each attempt is reported once through onError. */
  private reconnect(): void {
    if (this.closed || this.retry) return;
    this.client = undefined;
    const delay = Math.min(30_000, 1000 * 2 ** Math.min(this.attempt++, 5));
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.start().then(
        () => { for (const id of this.emitter.eventNames()) this.emitter.emit(id); },
        (err: Error) => { this.onError(err); this.reconnect(); },
      );
    }, delay);
  }

  /** Calls `listener` whenever job `id` changes; returns the unsubscribe function. */
  subscribe(id: string, listener: () => void): () => void {
    this.emitter.on(id, listener);
    return () => this.emitter.off(id, listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.client?.end().catch(() => {});
  }
}
