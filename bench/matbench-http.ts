/**
 * matbench_expt_gap (Matbench v0.1 folds) through the HTTP API with the fine-tune defaults: the path a user takes.
 * Per fold: the fold's training rows are uploaded as a dataset, split into training and a seeded 10 % of the
 * compositions for validation (as bench:matbench does), fine-tuned with a request that names only the dataset and
 * split, and the fold's test formulas are predicted over HTTP; MAE and interval coverage are computed here. The test
 * fold never reaches the service with its targets.
 *
 *   npm run bench:matbench-http -- [--folds 0-4] [--no-write]
 *
 * The service (API + worker, `src/cli.ts serve`) runs on its own database; results go to
 * bench/results/matbench-http.json with the command and commit.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../src/paths.js';
import { loadExptGaps } from '../scripts/lib/expt-gap-stats.js';
import { matbenchFolds } from '../scripts/lib/kfold.js';
import { foldData, holdOutCompositions, matbenchGapRows } from '../scripts/lib/matbench-expt-gap.js';
import { gitCommit, npmCommand, parseIndexRange } from '../scripts/lib/run-info.js';
import { startService } from './lib/service.js';
import { LEADERBOARD } from './matbench-expt-gap-report.js';

const VAL_FRACTION = 0.1;
const VAL_SEED = 18012019;
const RESULTS = join(ROOT, 'bench', 'results', 'matbench-http.json');

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { folds: { type: 'string', default: '0-4' }, 'no-write': { type: 'boolean', default: false } },
});

interface FoldResult {
  fold: number;
  trainRows: number;
  valRows: number;
  testRows: number;
  testMae: number;
  coverage90: number;
  recipe: string;
  candidates: { name: string; valMae: number }[];
  members: number;
  jobSeconds: number;
}

const merged = loadExptGaps();
const rows = matbenchGapRows(merged);
const folds = matbenchFolds(rows.length);
const service = await startService('serve');
const call = async <T>(method: string, url: string, body?: unknown): Promise<T> => {
  const res = await fetch(service.base + url, {
    method, headers: { authorization: service.authorization, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  if (res.status >= 400) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};

const results: FoldResult[] = [];
try {
  for (const f of parseIndexRange(values.folds)) {
    const data = foldData(rows, merged, folds[f], 'matbench');
    const split = holdOutCompositions(data.train, VAL_FRACTION, VAL_SEED + f);
    const dataset = await call<{ id: string }>('POST', '/v1/datasets', {
      name: `matbench-expt-gap-fold-${f}`, property: 'experimental band gap', unit: 'eV', rows: data.train.map((r) => ({ formula: r.formula, target: r.gap })),
    });
    const s = await call<{ id: string }>('POST', `/v1/datasets/${dataset.id}/splits`, { method: 'explicit', train: split.train, val: split.val });
    const t0 = performance.now();
    const job = await call<{ id: string }>('POST', '/v1/jobs', { type: 'fine-tune', dataset: dataset.id, split: s.id });
    let done: { state: string; result: { model: string }; error?: string };
    for (;;) {
      done = await call('GET', `/v1/jobs/${job.id}`);
      if (['completed', 'failed', 'cancelled'].includes(done.state)) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    if (done.state !== 'completed') throw new Error(`fold ${f}: job ${done.state}: ${done.error}`);
    const jobSeconds = (performance.now() - t0) / 1000;
    const model = await call<{ metrics: { recipe: string; members: number; candidates: { name: string; valMae: number }[] } }>('GET', `/v1/models/${done.result.model}`);
    const preds: { value: number; interval: [number, number] }[] = [];
    for (let at = 0; at < data.test.length; at += 1000) {
      const part = data.test.slice(at, at + 1000);
      preds.push(...(await call<{ predictions: typeof preds }>('POST', `/v1/models/${done.result.model}/predict`, { inputs: part.map((r) => ({ formula: r.formula })) })).predictions);
    }
    const testMae = preds.reduce((a, p, i) => a + Math.abs(p.value - data.test[i].gap), 0) / preds.length;
    const coverage90 = preds.filter((p, i) => data.test[i].gap >= p.interval[0] && data.test[i].gap <= p.interval[1]).length / preds.length;
    const r: FoldResult = {
      fold: f, trainRows: split.train.length, valRows: split.val.length, testRows: data.test.length, testMae, coverage90,
      recipe: model.metrics.recipe, members: model.metrics.members, candidates: model.metrics.candidates.map((c) => ({ name: c.name, valMae: c.valMae })), jobSeconds,
    };
    results.push(r);
    console.log(`fold ${f}: test MAE ${testMae.toFixed(4)} eV, 90 % coverage ${(coverage90 * 100).toFixed(1)} %, recipe ${r.recipe}, ${r.members} members, job ${jobSeconds.toFixed(0)} s`);
  }
} finally {
  await service.stop();
}

const mean = results.reduce((a, r) => a + r.testMae, 0) / results.length;
const std = Math.sqrt(results.reduce((a, r) => a + (r.testMae - mean) ** 2, 0) / results.length);
console.log(`\n${results.length}-fold mean test MAE ${mean.toFixed(4)} ± ${std.toFixed(4)} eV (fine-tune defaults over HTTP); leaderboard: ${LEADERBOARD.map((l) => `${l.name} ${l.mae}`).join(', ')}`);
if (!values['no-write']) {
  const previous = (() => {
    try {
      return JSON.parse(readFileSync(RESULTS, 'utf8')) as unknown[];
    } catch {
      return [];
    }
  })();
  const run = { command: npmCommand('bench:matbench-http', process.argv.slice(2)), commit: gitCommit(), date: new Date().toISOString(), meanTestMae: mean, stdTestMae: std, folds: results };
  writeFileSync(RESULTS, `${JSON.stringify([...previous, run], null, 1)}\n`);
}
