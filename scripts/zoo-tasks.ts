/**
 * Trains the shipped models: one per available paper task, named by its task key, each an ensemble of 5 mixtures
 * (one per published split, seeds 0-4) over the composition experts allowed for the task (no leakage), so that a
 * formula alone is enough to ask for a prediction and the spread of the 5 members is the reported uncertainty.
 * Writes models/<task>.matmoe and models/index.json; the service seeds them into Postgres at start.
 *
 *   node --import tsx scripts/zoo-tasks.ts [--only expt_bandgap,mp_phonons] [--epochs 300] [--patience 100] [--k 2]
 *        [--loss mse|l1] [--warmup EPOCHS] [--gate-init equal|probe|probe-kinds] [--seeds 0-4]
 *
 * Deterministic for the same experts, options and backend (seeded initialisation, shuffling and gate tie order).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseFormula } from '../src/chem/formula.js';
import { initBackend } from '../src/ml/backend.js';
import { loadShippedExperts } from '../src/ml/experts/registry.js';
import { allowedExperts } from '../src/ml/experts/leakage.js';
import { serializeEnsemble } from '../src/ml/mixture/ensemble.js';
import type { ExpertInput } from '../src/ml/experts/expert-kind.js';
import { predictMixture, type MixtureModel } from '../src/ml/mixture/model.js';
import { readSplit, readTaskRows, taskIndex } from './lib/tasks.js';
import { trainMixture } from '../src/ml/mixture/trainer.js';
import { ensembleGate } from '../src/ml/stored-model.js';
import { SHIPPED_MODELS_DIR, type ShippedModelCard } from '../src/services/shipped-models.js';
import { type GateInit } from '../src/ml/mixture/config.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    only: { type: 'string' },
    epochs: { type: 'string', default: '300' },
    patience: { type: 'string', default: '100' },
    k: { type: 'string', default: '2' },
    seeds: { type: 'string', default: '0-4' },
    loss: { type: 'string', default: 'mse' },
    warmup: { type: 'string', default: '0' },
    'gate-init': { type: 'string', default: 'equal' },
  },
});
const epochs = Number(values.epochs);
const patience = Number(values.patience);
const k = Number(values.k);
const loss = values.loss as 'mse' | 'l1';
const gateWarmup = Number(values.warmup);
const gateInit = values['gate-init'] as GateInit;
const [s0, s1] = values.seeds!.split('-').map(Number);
const seeds = Array.from({ length: (s1 ?? s0) - s0 + 1 }, (_, i) => s0 + i);

const backend = await initBackend('wasm');
const experts = await loadShippedExperts('composition');
// Availability is the index's `available` flag: some task files (jarvis_3d_gap_tbmbj_comp) have no `file` entry.
const tasks = taskIndex().filter((t) => t.available && (!values.only || values.only.split(',').includes(t.key)));
if (tasks.length === 0) throw new Error(`no available task matches --only ${values.only}`);
await mkdir(SHIPPED_MODELS_DIR, { recursive: true });
const indexPath = join(SHIPPED_MODELS_DIR, 'index.json');
const cards: ShippedModelCard[] = existsSync(indexPath) ? (JSON.parse(await readFile(indexPath, 'utf8')) as ShippedModelCard[]) : [];
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v: number[]) => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));

for (const task of tasks) {
  const t0 = performance.now();
  const rows = readTaskRows(task.key);
  const inputs: ExpertInput[] = rows.map((r) => ({ formula: r.formula }));
  const targets = Float64Array.from(rows, (r) => r.target);
  const allowed = allowedExperts(task.key, experts);
  const members: MixtureModel[] = [];
  const perSeed: { seed: number; valMae: number; testMae: number; bestEpoch: number }[] = [];
  let parity = { targets: [] as number[], predictions: [] as number[] };
  const trainingElements = new Set<string>();
  for (const seed of seeds) {
    const split = readSplit(task.key, seed);
    const r = await trainMixture({ inputs, targets, split }, { experts: allowed.map((e) => e.key), k: Math.min(k, allowed.length), epochs, patience, seed, gateTieBreak: 'seeded', loss, gateWarmup, gateInit }, { experts: allowed });
    members.push(r.model);
    perSeed.push({ seed, valMae: r.valMae, testMae: r.testMae ?? NaN, bestEpoch: r.bestEpoch + 1 });
    for (const i of split.train) for (const el of Object.keys(parseFormula(rows[i].formula).amounts)) trainingElements.add(el);
    if (seed === seeds[0]) {
      parity = { targets: split.test.map((i) => rows[i].target), predictions: Array.from(predictMixture(r.model, split.test.map((i) => inputs[i]))) };
    }
    process.stdout.write(`${task.key} seed ${seed}: val MAE ${r.valMae.toPrecision(4)}, test MAE ${r.testMae?.toPrecision(4)} (best epoch ${r.bestEpoch + 1}) ${r.model.gateWeights.map((w, i) => `${r.model.experts[i].key} ${w.toFixed(2)}`).join(', ')}\n`);
  }
  // Members keep only what fine-tuning changed; the rest is read from the shipped experts at load time.
  const bytes = serializeEnsemble(members, (key, sha) => experts.find((e) => e.key === key && e.baseSha256 === sha)?.weights);
  const file = `${task.key}.matmoe`;
  await writeFile(join(SHIPPED_MODELS_DIR, file), bytes);
  const testMaes = perSeed.map((p) => p.testMae);
  const unit = task.transform ? `${task.transform} of ${task.unit}` : task.unit;
  const card: ShippedModelCard = {
    name: task.key,
    file,
    property: task.title,
    unit,
    inputKinds: ['formula', 'structure', 'cif', 'poscar'],
    config: { ...(members[0].config as unknown as Record<string, unknown>), protocol: `composition experts, paper splits seeds ${values.seeds}, ${epochs} epochs, patience ${patience}, k ${k}, loss ${loss}, gate ${gateInit}${gateWarmup > 0 ? `, gate warm-up ${gateWarmup} epochs` : ''}`, experts: allowed.map((e) => e.key) },
    experts: ensembleGate(members),
    metrics: {
      members: members.length, valMae: mean(perSeed.map((p) => p.valMae)), testMae: mean(testMaes), testMaeStd: std(testMaes), perSeed,
      paperMoE18: task.moe18_mae, cgcnnScratch: task.cgcnn_scratch_mae, bestKnown: task.best_known_mae,
      trainSeconds: Math.round((performance.now() - t0) / 100) / 10, backend: backend.name, parity, trainingElements: [...trainingElements].sort(),
    },
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  const at = cards.findIndex((c) => c.name === card.name);
  if (at >= 0) cards[at] = card;
  else cards.push(card);
  cards.sort((a, b) => a.name.localeCompare(b.name));
  await writeFile(indexPath, `${JSON.stringify(cards, null, 1)}\n`);
  process.stdout.write(`${task.key}: test MAE ${mean(testMaes).toPrecision(4)} ± ${std(testMaes).toPrecision(2)} ${unit} (paper MoE-18 ${task.moe18_mae ?? '–'}) in ${card.metrics.trainSeconds} s\n`);
}
