import type { onRequestAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { OverloadedError } from '../external/under-pressure.js';
import { DatasetService } from '../../services/dataset-service.js';
import { ExpertService } from '../../services/expert-service.js';
import { HealthService } from '../../services/health-service.js';
import { InferencePool } from '../../services/inference/inference-pool.js';
import { JobEvents } from '../../services/job-events.js';
import { JobService } from '../../services/job-service.js';
import { ModelService } from '../../services/model-service.js';
import { seedShippedModels } from '../../services/shipped-models.js';
import { SplitService } from '../../services/split-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    experts: ExpertService;
    models: ModelService;
    datasets: DatasetService;
    splits: SplitService;
    jobs: JobService;
    health: HealthService;
    inference: InferencePool;
    /** onRequest hook of prediction routes: 503 with Retry-After while the inference backlog is over MAX_INFERENCE_BACKLOG. */
    shedWhenBacklogged: onRequestAsyncHookHandler;
  }
}

/**
 * The domain services, one decorator each; routes call these and nothing below them. At start the shipped experts and
 * models are seeded into Postgres (idempotent); the inference threads load models on first prediction.
 */
export default fp(async (app) => {
  const inference = new InferencePool({
    databaseUrl: app.config.databaseUrl, tfjsBackend: app.config.tfjsBackend, threads: app.config.inferenceThreads,
    maxBatch: app.config.batchMaxInputs, maxWaitMs: app.config.batchMaxWaitMs, maxSites: app.config.predictMaxSites,
  });
  app.addHook('onClose', async () => inference.close());
  const experts = new ExpertService(app.pg, inference);
  app.log.info(await experts.seed(), 'experts seeded');
  app.log.info(await seedShippedModels(app.pg), 'shipped models seeded');
  const events = new JobEvents(app.config.databaseUrl, (err) => app.log.warn({ err: err.message }, 'job events connection lost; reconnecting'));
  await events.start();
  app.addHook('onClose', async () => events.close());

  const datasets = new DatasetService(app.pg);
  app.decorate('inference', inference);
  const maxBacklog = app.config.maxInferenceBacklog;
  app.decorate('shedWhenBacklogged', async (_request, reply) => {
    if (maxBacklog > 0 && inference.backlog > maxBacklog) {
      reply.header('retry-after', '1');
      throw new OverloadedError(`the prediction queue is full (${inference.backlog} waiting); retry in a second, or send large screens as a batch-prediction job`);
    }
  });
  app.decorate('experts', experts);
  app.decorate('models', new ModelService(app.pg, inference));
  app.decorate('datasets', datasets);
  app.decorate('splits', new SplitService(app.pg, datasets));
  app.decorate('jobs', new JobService(app.pg, app.trainingQueue, events, app.log));
  app.decorate('health', new HealthService(app.pg, app.redis, app.backend));
}, { name: 'services', dependencies: ['db', 'redis', 'backend'] });
