/**
 * Wall time of a fine-tune with the defaults a service job uses (recipe 'auto', 3 members, a child process per core):
 * one published split of a paper task, structures read as crystal graphs. Prints the candidates, the choice and the
 * wall time; test rows are read only after training, for the printed MAE and interval coverage.
 *
 *   npm run bench:finetune-budget -- [--task mp_poisson_ratio] [--seed 0] [--members 3] [--parallel 2]
 *        [--epochs 200] [--patience 50] [--basis structure|composition]
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/ml/backend.js';
import { allowedExperts } from '../src/ml/experts/leakage.js';
import { loadShippedExperts } from '../src/ml/experts/registry.js';
import { transformOfLabel, inverseTransform } from '../src/ml/mixture/output.js';
import { childProcessRunner } from '../src/ml/recipes/child-runner.js';
import { CANDIDATE_PROTOCOL } from '../src/ml/recipes/candidates.js';
import { heldOutReport, predictCalibrated } from '../src/ml/recipes/evaluate.js';
import { trainSplitEnsemble } from '../src/ml/recipes/split-ensemble.js';
import { readSplit, readTaskRows, taskIndex, taskInputs } from '../scripts/lib/tasks.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    task: { type: 'string', default: 'mp_poisson_ratio' },
    seed: { type: 'string', default: '0' },
    members: { type: 'string', default: '3' },
    parallel: { type: 'string', default: '2' },
    epochs: { type: 'string', default: String(CANDIDATE_PROTOCOL.epochs) },
    patience: { type: 'string', default: String(CANDIDATE_PROTOCOL.patience) },
    basis: { type: 'string', default: 'structure' },
  },
});
const info = await initBackend('wasm');
const meta = taskIndex().find((t) => t.key === values.task);
if (!meta) throw new Error(`no task ${values.task}`);
const basis = values.basis as 'structure' | 'composition';
const native = transformOfLabel(meta.transform);
const rows = readTaskRows(meta.key);
const inputs = basis === 'structure' ? taskInputs(rows) : rows.map((r) => ({ formula: r.formula }));
const targets = rows.map((r) => inverseTransform(native, r.target));
const split = readSplit(meta.key, Number(values.seed));
const runner = childProcessRunner({ parallel: Number(values.parallel) });
const load0 = loadavg()[0];
const t0 = performance.now();
const r = await trainSplitEnsemble(
  { inputs, targets, split: { train: split.train, val: split.val } },
  {
    basis,
    experts: { cgcnn: basis === 'structure' ? await loadShippedExperts('cgcnn') : [], composition: allowedExperts(meta.key, await loadShippedExperts('composition')) },
    members: Number(values.members),
    nativeTransform: native,
    seed: Number(values.seed),
    protocol: { epochs: Number(values.epochs), patience: Number(values.patience), k: 2 },
    runner,
    onCandidate: (c) => console.log(`  ${c.recipe.name}: val MAE ${c.valMae.toPrecision(4)} ${meta.unit} (best epoch ${c.bestEpoch + 1} of ${c.epochsRun}, ${c.seconds.toFixed(0)} s)`),
  },
);
const wall = (performance.now() - t0) / 1000;
await runner.close();
const test = heldOutReport(predictCalibrated(r.members, r.calibration, split.test.map((i) => inputs[i])), split.test.map((i) => targets[i]));
console.log(`${meta.key} seed ${values.seed}: ${split.train.length} train + ${split.val.length} val rows, ${basis}, ${r.members.length} members of ${r.chosen.name}`);
console.log(`  skipped: ${r.skipped.map((s) => `${s.name} (${s.reason})`).join('; ') || 'none'}`);
console.log(`  test MAE ${test.mae.toPrecision(4)} ${meta.unit}, 90 % interval coverage ${(100 * test.coverage).toFixed(1)} % (mean width ${test.meanWidth.toPrecision(3)})`);
console.log(`  wall ${wall.toFixed(0)} s with ${values.parallel} children on ${cpus().length} cores (load average ${load0.toFixed(1)} at start, ${loadavg()[0].toFixed(1)} at end), backend ${info.name}`);
