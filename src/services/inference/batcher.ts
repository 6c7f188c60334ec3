/**
 * Dynamic batching, as Triton and TF Serving do it: concurrent requests for the same key (a model version) are gathered
 * for at most `maxWaitMs` or until `maxBatch` inputs are waiting, then run as one batch; each request gets back its own
 * answer. A request larger than a batch runs on its own.
 */
export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
}

interface Pending<I, R> {
  inputs: I[];
  resolve(r: R): void;
  reject(e: unknown): void;
}

export class Batcher<I, R> {
  private readonly queues = new Map<string, { items: Pending<I, R>[]; size: number; timer?: NodeJS.Timeout }>();
  private waiting = 0;
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
        q = { items: [], size: 0 };
        this.queues.set(key, q);
      }
      q.items.push({ inputs, resolve, reject });
      q.size += inputs.length;
      this.waiting += inputs.length;
      if (q.size >= this.opts.maxBatch) this.flush(key);
      else q.timer ??= setTimeout(() => this.flush(key), this.opts.maxWaitMs);
    });
  }

  private flush(key: string): void {
    const q = this.queues.get(key);
    if (!q) return;
    clearTimeout(q.timer);
    this.queues.delete(key);
    this.waiting -= q.size;
    // Split into batches of at most maxBatch inputs (a single larger request forms a batch of its own).
    let batch: Pending<I, R>[] = [];
    let size = 0;
    const send = (items: Pending<I, R>[]): void => {
      this.stats.batches++;
      this.stats.requests += items.length;
      this.runBatch(key, items.map((p) => p.inputs)).then(
        (results) => items.forEach((p, i) => p.resolve(results[i])),
        (err) => items.forEach((p) => p.reject(err)),
      );
    };
    for (const p of q.items) {
      if (size > 0 && size + p.inputs.length > this.opts.maxBatch) {
        send(batch);
        batch = [];
        size = 0;
      }
      batch.push(p);
      size += p.inputs.length;
    }
    if (batch.length > 0) send(batch);
  }
}
