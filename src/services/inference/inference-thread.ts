/**
 * An inference thread (piscina worker): everything heavy about a prediction runs here, off the API's event loop —
 * parsing structure files, neighbour graphs, descriptors and forward passes. Each thread loads the shipped experts and
 * its own compute backend once, and keeps the models it was asked for (reloading one when its version changes).
 */
import pg from 'pg';
import { workerData } from 'node:worker_threads';
import { initBackend, type BackendName } from '../../ml/backend.js';
import { loadAllShippedExperts } from '../../ml/experts/registry.js';
import { startIdleCollector } from '../../util/idle-gc.js';
import { ExpertRuntime } from './expert-runtime.js';
import { ModelRuntime } from './model-runtime.js';
import type { ExpertPrediction, InferenceResult, InferenceTask, MaterialPrediction, ThreadConfig } from './protocol.js';

const config = workerData as ThreadConfig;

const ready = (async () => {
  await initBackend(config.tfjsBackend as BackendName);
  const experts = new Map((await loadAllShippedExperts()).map((e) => [e.key, e]));
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 1, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
  pool.on('error', () => {});
  const base = (key: string, sha: string) => {
    const e = experts.get(key);
    return e && e.baseSha256 === sha ? e.weights : undefined;
  };
  return { models: new ModelRuntime(pool, base), experts: new ExpertRuntime(experts) };
})();

const idle = startIdleCollector();

export default async function run(task: InferenceTask): Promise<InferenceResult<MaterialPrediction | ExpertPrediction>> {
  idle.begin();
  try {
    const runtimes = await ready;
    return { groups: task.kind === 'model' ? await runtimes.models.run(task) : runtimes.experts.run(task) };
  } finally {
    idle.end();
  }
}
