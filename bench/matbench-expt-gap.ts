/**
 * matbench_expt_gap (Matbench v0.1: the official 5 folds, test MAE per fold, mean ± std) for the composition-expert
 * mixture, with two kinds of training data per fold (scripts/lib/matbench-expt-gap.ts): 'matbench' (the training
 * folds, the leaderboard protocol) and 'merged' (all experimental gaps of the merged set except the test fold's
 * compositions). Validation is a seeded 10 % of the training compositions; the test fold is only predicted.
 * Folds run in child processes, `--jobs` at a time (default 2: one per core; wasm is single-threaded).
 *
 *   npm run bench:matbench -- [--variants matbench,merged] [--folds 0-4|0,2] [--seeds 0|0-4] [--epochs 1000]
 *        [--patience 500] [--k 2] [--jobs 2] [--resume] [--no-write]
 *   (--seeds trains several members per fold, reported one by one, averaged, and as an ensemble of mean predictions;
 *   --resume skips the runs already stored with the same protocol; a child that fails is retried once.)
 *   npm run bench:matbench -- --render     (regenerates the table in docs/expt-gaps.md from the stored runs)
 *
 * Every run is stored in bench/results/matbench-expt-gap.json (fold, variant, val/test MAE, seconds, command, commit).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/ml/backend.js';
import { loadShippedExperts } from '../src/ml/experts/registry.js';
import { loadExptGaps } from '../scripts/lib/expt-gap-stats.js';
import { matbenchFolds } from '../scripts/lib/kfold.js';
import { foldData, holdOutCompositions, matbenchGapRows, VARIANTS, type Variant } from '../scripts/lib/matbench-expt-gap.js';
import { RECIPE_OPTIONS, gapExperts, recipeFromOptions, trainGapMixture, type GapRecipe } from '../scripts/lib/expt-gap-training.js';
import { gitCommit, npmCommand, parseIndexRange } from '../scripts/lib/run-info.js';
import { loadRuns, saveRun, writeSection } from '../scripts/lib/expt-gap-doc.js';
import { MATBENCH_RESULTS, renderMatbench, sameRun, type MatbenchRun } from './matbench-expt-gap-report.js';

const VAL_FRACTION = 0.1;
/** Validation compositions of fold f, member s are drawn with seed VAL_SEED + f + 100·s. */
const VAL_SEED = 18012019;

interface Job {
  variant: Variant;
  fold: number;
  seed: number;
  recipe: Omit<GapRecipe, 'seed'>;
}

const protocolOf = (r: Omit<GapRecipe, 'seed'>) => `k=${r.k} epochs=${r.epochs} patience=${r.patience} val=${VAL_FRACTION} loss=l1 gate=probe`;

async function runJob(job: Job, command: string): Promise<MatbenchRun> {
  const backend = await initBackend('wasm');
  const merged = loadExptGaps();
  const rows = matbenchGapRows(merged);
  const fold = matbenchFolds(rows.length)[job.fold];
  const data = foldData(rows, merged, fold, job.variant);
  const trainKeys = new Set(data.train.map((r) => r.key));
  const split = holdOutCompositions(data.train, VAL_FRACTION, VAL_SEED + job.fold + 100 * job.seed);
  const all = [...data.train, ...data.test];
  const n = data.train.length;
  const experts = gapExperts(await loadShippedExperts('composition'));
  const r = await trainGapMixture(
    { formulas: all.map((x) => x.formula), targets: all.map((x) => x.gap), split: { ...split, test: data.test.map((_, i) => n + i) } },
    { ...job.recipe, seed: job.fold + 100 * job.seed },
    experts,
  );
  return {
    variant: job.variant, fold: job.fold, seed: job.seed, protocol: protocolOf(job.recipe),
    trainRows: split.train.length, valRows: split.val.length, testRows: data.test.length,
    excludedCompositions: data.excluded, sharedCompositions: data.test.filter((t) => trainKeys.has(t.key)).length,
    valMae: r.valMae, testMae: r.testMae!, trainMae: r.trainMae, bestEpoch: r.bestEpoch, epochsRun: r.epochsRun, seconds: Math.round(r.seconds * 10) / 10,
    experts: r.model.selected.map((j, i) => ({ key: r.model.expertKeys[j], weight: r.model.gateWeights[i] })),
    testPredictions: r.testPredictions.map((p) => Math.round(p * 1e4) / 1e4),
    backend: backend.name, date: new Date().toISOString(), command, commit: gitCommit(),
  };
}

/** Runs the jobs in child processes, `jobs` at a time; each child prints one `RESULT <json>` line. */
async function runChildren(todo: Job[], jobs: number, command: string, onDone: (r: MatbenchRun) => void): Promise<string[]> {
  const self = fileURLToPath(import.meta.url);
  const queue = [...todo];
  const failed: string[] = [];
  const once = (job: Job) =>
    new Promise<MatbenchRun>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', self, '--child', JSON.stringify({ job, command })], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        const line = out.split('\n').find((l) => l.startsWith('RESULT '));
        if (code !== 0 || !line) reject(new Error(`fold ${job.fold} seed ${job.seed} (${job.variant}) exited with ${code}`));
        else resolve(JSON.parse(line.slice('RESULT '.length)) as MatbenchRun);
      });
    });
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      // One retry: on a shared machine a child can die of its environment (e.g. node_modules being reinstalled).
      const run = await once(job).catch(() => once(job)).catch((err: Error) => {
        failed.push(err.message);
        return null;
      });
      if (run) onDone(run);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  return failed;
}

/** Official test targets of each fold, in ascending row order (the order of stored predictions). */
function foldTargets(): number[][] {
  const rows = matbenchGapRows(loadExptGaps());
  return matbenchFolds(rows.length).map((f) => f.test.map((i) => rows[i].gap));
}

const render = () => writeSection('matbench', renderMatbench(loadRuns<MatbenchRun>(MATBENCH_RESULTS), foldTargets()));

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    child: { type: 'string' },
    variants: { type: 'string', default: VARIANTS.join(',') },
    folds: { type: 'string', default: '0-4' },
    seeds: { type: 'string', default: '0' },
    ...RECIPE_OPTIONS,
    jobs: { type: 'string', default: '2' },
    resume: { type: 'boolean', default: false },
    render: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});

if (values.child) {
  const { job, command } = JSON.parse(values.child) as { job: Job; command: string };
  const run = await runJob(job, command);
  process.stdout.write(`RESULT ${JSON.stringify(run)}\n`);
} else if (values.render) {
  render();
} else {
  const folds = parseIndexRange(values.folds!);
  const seeds = parseIndexRange(values.seeds!);
  const variants = values.variants!.split(',') as Variant[];
  for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v} (${VARIANTS.join(', ')})`);
  const recipe = recipeFromOptions(values);
  const command = npmCommand('bench:matbench', process.argv.slice(2));
  const stored = loadRuns<MatbenchRun>(MATBENCH_RESULTS);
  const todo = seeds
    .flatMap((seed) => variants.flatMap((variant) => folds.map((fold) => ({ variant, fold, seed, recipe }))))
    .filter((j) => !values.resume || !stored.some((r) => r.variant === j.variant && r.fold === j.fold && (r.seed ?? 0) === j.seed && r.protocol === protocolOf(recipe) && r.testPredictions));
  const failed = await runChildren(todo, Number(values.jobs), command, (r) => {
    process.stdout.write(`${r.variant} fold ${r.fold} seed ${r.seed}: test MAE ${r.testMae.toFixed(4)} eV, val ${r.valMae.toFixed(4)}, best epoch ${r.bestEpoch}/${r.epochsRun}, ${r.seconds} s, ${r.experts.map((e) => `${e.key} ${e.weight.toFixed(2)}`).join(', ')}\n`);
    if (!values['no-write']) saveRun<MatbenchRun>(MATBENCH_RESULTS, r, sameRun);
  });
  if (!values['no-write']) render();
  if (failed.length > 0) throw new Error(`${failed.length} fold(s) failed twice: ${failed.join('; ')}`);
}
