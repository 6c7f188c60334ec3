/**
 * matbench_expt_gap (Matbench v0.1: the official 5 folds, test MAE per fold, mean ± std) for the composition-expert
 * mixture, with two kinds of training data per fold (scripts/lib/matbench-expt-gap.ts): 'matbench' (the training
 * folds, the leaderboard protocol) and 'merged' (all experimental gaps of the merged set except the test fold's
 * compositions). Validation is a seeded 10 % of the training compositions; the test fold is only predicted.
 * Folds run in child processes, `--jobs` at a time (default 2: one per core; wasm is single-threaded).
 *
 *   npm run bench:matbench -- [--variants matbench,merged] [--folds 0-4|0,2] [--epochs 1000] [--patience 500] [--k 2]
 *        [--jobs 2] [--resume] [--no-write]
 *   (--resume skips the folds already stored with the same protocol; a child that fails is retried once.)
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
import { DEFAULT_GAP_RECIPE, gapExperts, trainGapMixture, type GapRecipe } from '../scripts/lib/expt-gap-training.js';
import { gitCommit, npmCommand } from '../scripts/lib/run-provenance.js';
import { fmt, loadRuns, mean, saveRun, std, table, writeSection } from './expt-gap-report.js';

const RESULTS = 'matbench-expt-gap.json';
const VAL_FRACTION = 0.1;
/** Validation compositions of fold f are drawn with seed VAL_SEED + f. */
const VAL_SEED = 18012019;

/** Matbench v0.1 leaderboard for matbench_expt_gap (mean test MAE over the 5 folds, eV), as the issue quotes it. */
const LEADERBOARD: readonly { name: string; mae: number }[] = [
  { name: 'RF-SCM/Magpie', mae: 0.4461 },
  { name: 'CrabNet', mae: 0.3463 },
  { name: 'MODNet', mae: 0.3327 },
  { name: 'Ax/SAASBO CrabNet', mae: 0.331 },
  { name: 'Darwin', mae: 0.2865 },
];

interface MatbenchRun {
  variant: Variant;
  fold: number;
  protocol: string;
  trainRows: number;
  valRows: number;
  testRows: number;
  /** Merged compositions left out because the test fold has them. */
  excludedCompositions: number;
  /** Test rows whose composition key also labels a training row (0 by construction for 'merged'). */
  sharedCompositions: number;
  valMae: number;
  testMae: number;
  trainMae: number;
  bestEpoch: number;
  epochsRun: number;
  seconds: number;
  experts: { key: string; weight: number }[];
  backend: string;
  date: string;
  command: string;
  commit: string;
}

interface Job {
  variant: Variant;
  fold: number;
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
  const split = holdOutCompositions(data.train, VAL_FRACTION, VAL_SEED + job.fold);
  const all = [...data.train, ...data.test];
  const n = data.train.length;
  const experts = gapExperts(await loadShippedExperts('composition'));
  const r = await trainGapMixture(
    { formulas: all.map((x) => x.formula), targets: all.map((x) => x.gap), split: { ...split, test: data.test.map((_, i) => n + i) } },
    { ...job.recipe, seed: job.fold },
    experts,
  );
  return {
    variant: job.variant, fold: job.fold, protocol: protocolOf(job.recipe),
    trainRows: split.train.length, valRows: split.val.length, testRows: data.test.length,
    excludedCompositions: data.excluded, sharedCompositions: data.test.filter((t) => trainKeys.has(t.key)).length,
    valMae: r.valMae, testMae: r.testMae!, trainMae: r.trainMae, bestEpoch: r.bestEpoch, epochsRun: r.epochsRun, seconds: Math.round(r.seconds * 10) / 10,
    experts: r.model.selected.map((j, i) => ({ key: r.model.expertKeys[j], weight: r.model.gateWeights[i] })),
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
        if (code !== 0 || !line) reject(new Error(`fold ${job.fold} (${job.variant}) exited with ${code}`));
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

function renderMatbench(runs: readonly MatbenchRun[]): string {
  const groups = new Map<string, MatbenchRun[]>();
  for (const r of runs) groups.set(`${r.variant}\t${r.protocol}`, [...(groups.get(`${r.variant}\t${r.protocol}`) ?? []), r]);
  const rows: string[][] = [];
  const commands = new Set<string>();
  for (const [id, rs] of [...groups].sort()) {
    const [variant, protocol] = id.split('\t');
    const byFold = [0, 1, 2, 3, 4].map((f) => rs.find((r) => r.fold === f));
    const done = byFold.filter((r): r is MatbenchRun => r !== undefined);
    const test = done.map((r) => r.testMae);
    rs.forEach((r) => commands.add(r.command));
    rows.push([
      `**${variant}**`, protocol, ...byFold.map((r) => fmt(r?.testMae)),
      done.length === 5 ? `**${fmt(mean(test))} ± ${fmt(std(test), 2)}**` : `(${done.length}/5 folds) ${fmt(mean(test))}`,
      fmt(mean(done.map((r) => r.valMae))), `${Math.round(mean(done.map((r) => r.trainRows)))} / ${Math.round(mean(done.map((r) => r.valRows)))}`,
      `${fmt(mean(done.map((r) => r.bestEpoch)), 3)} / ${fmt(mean(done.map((r) => r.epochsRun)), 3)}`, fmt(mean(done.map((r) => r.seconds)), 3),
    ]);
  }
  for (const l of LEADERBOARD) rows.push([l.name, 'Matbench v0.1 leaderboard', '', '', '', '', '', fmt(l.mae), '', '', '', '']);
  return [
    table(['model / training data', 'protocol', 'fold 0', 'fold 1', 'fold 2', 'fold 3', 'fold 4', 'test MAE, mean ± std (eV)', 'val MAE', 'train / val rows', 'best / run epochs', 's per fold'], rows),
    '',
    `Runs: ${runs.length}, commits ${[...new Set(runs.map((r) => r.commit.slice(0, 7)))].join(', ')}, backend ${[...new Set(runs.map((r) => r.backend))].join(', ')}. Commands: ${[...commands].map((c) => `\`${c}\``).join(', ')}.`,
  ].join('\n');
}

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    child: { type: 'string' },
    variants: { type: 'string', default: VARIANTS.join(',') },
    folds: { type: 'string', default: '0-4' },
    epochs: { type: 'string', default: String(DEFAULT_GAP_RECIPE.epochs) },
    patience: { type: 'string', default: String(DEFAULT_GAP_RECIPE.patience) },
    k: { type: 'string', default: String(DEFAULT_GAP_RECIPE.k) },
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
  writeSection('matbench', renderMatbench(loadRuns<MatbenchRun>(RESULTS)));
} else {
  const folds = values.folds!.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
  const variants = values.variants!.split(',') as Variant[];
  for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v} (${VARIANTS.join(', ')})`);
  const recipe = { k: Number(values.k), epochs: Number(values.epochs), patience: Number(values.patience) };
  const command = npmCommand('bench:matbench', process.argv.slice(2));
  const stored = loadRuns<MatbenchRun>(RESULTS);
  const todo = variants
    .flatMap((variant) => folds.map((fold) => ({ variant, fold, recipe })))
    .filter((j) => !values.resume || !stored.some((r) => r.variant === j.variant && r.fold === j.fold && r.protocol === protocolOf(recipe)));
  const failed = await runChildren(todo, Number(values.jobs), command, (r) => {
    process.stdout.write(`${r.variant} fold ${r.fold}: test MAE ${r.testMae.toFixed(4)} eV, val ${r.valMae.toFixed(4)}, best epoch ${r.bestEpoch}/${r.epochsRun}, ${r.seconds} s, ${r.experts.map((e) => `${e.key} ${e.weight.toFixed(2)}`).join(', ')}\n`);
    if (!values['no-write']) saveRun<MatbenchRun>(RESULTS, r, (a, b) => a.variant === b.variant && a.fold === b.fold && a.protocol === b.protocol);
  });
  if (!values['no-write']) writeSection('matbench', renderMatbench(loadRuns<MatbenchRun>(RESULTS)));
  if (failed.length > 0) throw new Error(`${failed.length} fold(s) failed twice: ${failed.join('; ')}`);
}
