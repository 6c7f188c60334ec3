import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import pg from 'pg';
import { readTaskRows } from '../../scripts/lib/tasks.js';
import { auth, build, spawnWorker, until } from '../helper.js';

test('a worker killed with SIGKILL mid-job: another worker resumes the job from its checkpoint, one model, same bytes as an uninterrupted run', async (t) => {
  const app = await build(t);
  const db = new pg.Pool({ connectionString: app.config.databaseUrl, max: 2 });
  // The test database is dropped (its connections terminated) when the test ends.
  db.on('error', () => {});
  t.after(() => db.end());
  const rows = readTaskRows('expt_bandgap').slice(0, 120).map((r) => ({ formula: r.formula, target: r.target }));
  const dataset = (await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: 'crash', property: 'band gap', unit: 'eV', rows } })).json();
  const split = (await app.inject({ method: 'POST', url: `/v1/datasets/${dataset.id}/splits`, headers: auth, payload: {} })).json();
  // One custom run long enough to be killed in the middle; a checkpoint every 0.3 s.
  const request = { type: 'fine-tune', dataset: dataset.id, split: split.id, experts: ['comp_mp_gap', 'comp_jarvis3d_optb88vdw_gap', 'comp_mp_e_form'], recipe: 'custom', loss: 'l1', gateInit: 'probe', members: 1, epochs: 800, patience: 800 };
  const env = { CHECKPOINT_SECONDS: '0.3', TRAINING_PROCESSES: '1' };
  const job = async (id: string) => (await app.inject({ url: `/v1/jobs/${id}`, headers: auth })).json();
  const finished = (id: string) => until(`job ${id} to finish`, async () => {
    const j = await job(id);
    return ['completed', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
  }, 240_000);

  const first = spawnWorker(t, app.config, env);
  const crashed = (await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { ...request, name: 'crash-resumed' } })).json();
  // Killed once a checkpoint is stored and training has gone on past it.
  await until('a stored checkpoint', async () => {
    const { rows: c } = await db.query('SELECT 1 FROM job_checkpoints WHERE job_id = $1 AND NOT done', [crashed.id]);
    const j = await job(crashed.id);
    return c.length > 0 && j.progress?.epoch > 20 ? true : undefined;
  }, 120_000);
  const killedAtEpoch = (await job(crashed.id)).progress.epoch as number;
  first.kill('SIGKILL');
  await once(first, 'exit');
  const killedAt = Date.now();

  const second = spawnWorker(t, app.config, env);
  const resumed = await until('the job to resume on the second worker', async () => {
    const j = await job(crashed.id);
    return j.progress?.resumedFrom ? j : undefined;
  }, 60_000);
  t.diagnostic(`picked up ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the SIGKILL (killed at epoch ${killedAtEpoch}, resumed after epoch ${resumed.progress.resumedFrom[0].epoch})`);
  const done = await finished(crashed.id);
  assert.equal(done.state, 'completed', `${JSON.stringify(done)}\n${second.output()}`);
  const from = resumed.progress.resumedFrom as { run: string; epoch: number }[];
  assert.equal(from.length, 1);
  // Progress is written at most every 250 ms, so the run may have gone a few epochs past the one last read before the kill.
  assert.ok(from[0].epoch >= 1 && from[0].epoch < request.epochs, JSON.stringify(from));

  const { rows: models } = await db.query<{ checksum: string }>('SELECT checksum FROM models WHERE job_id = $1', [crashed.id]);
  assert.equal(models.length, 1, 'exactly one model row');
  const { rows: left } = await db.query('SELECT 1 FROM job_checkpoints WHERE job_id = $1', [crashed.id]);
  assert.equal(left.length, 0, 'checkpoints are removed with the completion');

  // The same job never interrupted trains the same bytes: the resumed run lost nothing and repeated nothing.
  const clean = (await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { ...request, name: 'crash-clean' } })).json();
  const cleanDone = await finished(clean.id);
  assert.equal(cleanDone.state, 'completed');
  assert.equal(cleanDone.progress.resumedFrom, undefined);
  const { rows: cleanModel } = await db.query<{ checksum: string }>('SELECT checksum FROM models WHERE job_id = $1', [clean.id]);
  assert.equal(cleanModel[0].checksum, models[0].checksum);
});
