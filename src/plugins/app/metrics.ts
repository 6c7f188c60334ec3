import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { jobCounts, jobSeconds } from '../../db/job-queries.js';

export interface Metrics {
  registry: Registry;
  /** Count of materials predicted, by model (or expert) and input kind. */
  predictions: Counter<'model' | 'kind'>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/**
 * Prometheus metrics on a registry of this app instance: request latency by route, predictions served, the inference
 * pool's batches and backlog, and — read from Postgres at scrape time, so every API replica reports the same numbers —
 * jobs by state and training seconds.
 */
export default fp(async (app) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'matmoe_' });

  const latency = new Histogram({
    name: 'matmoe_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const predictions = new Counter({ name: 'matmoe_predictions_total', help: 'materials predicted', labelNames: ['model', 'kind'] as const, registers: [registry] });

  new Gauge({
    name: 'matmoe_jobs',
    help: 'jobs by type and state (from Postgres)',
    labelNames: ['type', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await jobCounts(app.pg)) this.set({ type: r.type, state: r.state }, r.n);
    },
  });
  new Gauge({
    name: 'matmoe_training_seconds_total',
    help: 'wall seconds spent by finished jobs, by type and final state (from Postgres)',
    labelNames: ['type', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await jobSeconds(app.pg)) this.set({ type: r.type, state: r.state }, r.s);
    },
  });

  // The inference pool's own counts, read at scrape time (the pool is decorated by the services plugin).
  const pool = () => (app.hasDecorator('inference') ? app.inference : undefined);
  const inferenceGauges: [string, string, (p: NonNullable<ReturnType<typeof pool>>) => number][] = [
    ['matmoe_inference_batches', 'inference batches run by this API process since it started (monotonic)', (p) => p.stats.batches],
    ['matmoe_inference_batched_requests', 'prediction requests answered through inference batches since start (monotonic; ÷ batches = mean requests per batch)', (p) => p.stats.requests],
    ['matmoe_inference_backlog', 'inference work waiting now: inputs gathered for a batch plus batches queued for a thread (what load shedding reads)', (p) => p.backlog],
  ];
  for (const [name, help, read] of inferenceGauges) {
    new Gauge({
      name, help, registers: [registry],
      collect() {
        const p = pool();
        this.set(p ? read(p) : 0);
      },
    });
  }

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    latency.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.decorate('metrics', { registry, predictions });
}, { name: 'metrics', dependencies: ['db'] });
