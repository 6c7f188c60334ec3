/**
 * Dynamic batching, as Triton and TF Serving do it: concurrent requests for the same key (a model version) are gathered
 * for at most `maxWaitMs` or until `maxBatch` inputs are waiting, then run as one batch; each request gets back its own
 * answer. A request larger than a batch runs on its own.
 *
 * At most `maxInFlight` batches run at once (one per inference thread). While every thread is busy, requests keep
 * gathering instead of queueing as many small batches behind the threads, so under load batches grow to what arrived
 * during one batch's compute (measured: 4.5 requests per batch without the limit at 32 connections of new crystals).
 */
export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  /** Batches running at once; further ones wait, still gathering (default: no limit). */
  maxInFlight?: number;
}

interface Pending<I, R> {
  inputs: I[];
  resolve(r: R): void;
  reject(e: unknown): void;
}

interface Queue<I, R> {
  items: Pending<I, R>[];
  size: number;
  timer?: NodeJS.Timeout;
  /** Its wait is over (or it is full): it goes as soon as a batch may start. */
  due: boolean;
}

export class Batcher<I, R> {
  private readonly queues = new Map<string, Queue<I, R>>();
  private waiting = 0;
  private inFlight = 0;
  /** Batches run and requests answered: with concurrent requests, fewer batches than requests. */
  readonly stats = { batches: 0, requests: 0 };

  constructor(private readonly runBatch: (key: string, groups: I[][]) => Promise<R[]>, private readonly opts: BatcherOptions) {}

  /** Inputs waiting for their batch to start, over all keys (a measure of load). */
  get pendingInputs(): number {
    return this.waiting;
  }

  submit(key: string, inputs: I[]): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let q = this.queues.get(key);
      if (!q) {
        q = { items: [], size: 0, due: false };
        this.queues.set(key, q);
      }
      q.items.push({ inputs, resolve, reject });
      q.size += inputs.length;
      this.waiting += inputs.length;
      if (q.size >= this.opts.maxBatch) this.markDue(key, q);
      else q.timer ??= setTimeout(() => this.markDue(key, q), this.opts.maxWaitMs);
    });
  }

  private markDue(key: string, q: Queue<I, R>): void {
    clearTimeout(q.timer);
    q.timer = undefined;
    q.due = true;
    this.dispatch(key);
  }

  /** Starts batches of due queues (the given key first) while a batch may start. */
  private dispatch(first?: string): void {
    const limit = this.opts.maxInFlight ?? Infinity;
    const keys = first === undefined ? [...this.queues.keys()] : [first, ...[...this.queues.keys()].filter((k) => k !== first)];
    for (const key of keys) {
      const q = this.queues.get(key);
      while (q?.due && q.items.length > 0 && this.inFlight < limit) this.send(key, q);
    }
  }

  /** Takes up to maxBatch inputs from the head of the queue (a larger single request alone) and runs them. */
  private send(key: string, q: Queue<I, R>): void {
    const items: Pending<I, R>[] = [];
    let size = 0;
    while (q.items.length > 0 && (items.length === 0 || size + q.items[0].inputs.length <= this.opts.maxBatch)) {
      const p = q.items.shift()!;
      items.push(p);
      size += p.inputs.length;
    }
    q.size -= size;
    this.waiting -= size;
    if (q.items.length === 0) {
      clearTimeout(q.timer);
      this.queues.delete(key);
    }
    this.inFlight++;
    this.stats.batches++;
    this.stats.requests += items.length;
    const done = (): void => {
      this.inFlight--;
      this.dispatch();
    };
    this.runBatch(key, items.map((p) => p.inputs)).then(
      (results) => {
        items.forEach((p, i) => p.resolve(results[i]));
        done();
      },
      (err) => {
        items.forEach((p) => p.reject(err));
        done();
      },
    );
  }
}
