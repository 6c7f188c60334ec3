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
  }

  private reconnect(): void {
    if (this.closed || this.retry) return;
    this.client = undefined;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.start().then(
        () => { for (const id of this.emitter.eventNames()) this.emitter.emit(id); },
        (err: Error) => { this.onError(err); this.reconnect(); },
      );
    }, 1000);
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
