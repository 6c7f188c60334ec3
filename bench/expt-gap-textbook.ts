/**
 * How the merged-data model does on textbook compounds it has never seen: an ensemble (one member per seed) trained on
 * every merged composition except the textbook compounds (scripts/lib/textbook-gaps.ts; each member validates on its
 * own seeded 10 % of the rest), then asked for each of them, beside the merged experimental median, the textbook
 * value and the model shipped in models/expt_bandgap.matmoe at the time of the run (identified by its sha256): its
 * calibrated value and 90 % interval where its card has a calibration, else the mean of its members.
 *
 *   npm run bench:gap-textbook -- [--epochs 1000] [--patience 500] [--k 2] [--seeds 0-4] [--no-write]
 *   npm run bench:gap-textbook -- --render
 *
 * Runs are stored in bench/results/expt-gap-textbook.json and rendered into docs/expt-gaps.md (section `textbook`).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseFormula } from '../src/chem/formula.js';
import { initBackend } from '../src/ml/backend.js';
import { loadShippedExperts } from '../src/ml/experts/registry.js';
import type { ExpertInput, ExpertWeights } from '../src/ml/experts/expert-kind.js';
import { loadEnsemble } from '../src/ml/mixture/ensemble.js';
import { predictMixture } from '../src/ml/mixture/model.js';
import { memberOutput, physicalValues } from '../src/ml/mixture/output.js';
import { membersOfBasis, predictCalibrated } from '../src/ml/recipes/evaluate.js';
import { ROOT } from '../src/paths.js';
import { compositionKey } from '../scripts/lib/expt-gap-merge.js';
import { loadExptGaps } from '../scripts/lib/expt-gap-stats.js';
import { GAP_TASK, RECIPE_OPTIONS, gapExperts, recipeFromOptions, trainGapMixture } from '../scripts/lib/expt-gap-training.js';
import { holdOutCompositions } from '../scripts/lib/matbench-expt-gap.js';
import { gitCommit, npmCommand, parseIndexRange } from '../scripts/lib/run-info.js';
import { TEXTBOOK_GAPS } from '../scripts/lib/textbook-gaps.js';
import { fmt, loadRuns, mean, saveRun, std, table, writeSection } from '../scripts/lib/expt-gap-doc.js';
import type { ZooCard } from '../scripts/lib/zoo-card.js';

const RESULTS = 'expt-gap-textbook.json';
const VAL_SEED = 4242;

interface TextbookRun {
  protocol: string;
  /** Merged compositions held out (the textbook compounds the merged set has). */
  heldOut: string[];
  /** One per seed: its own validation 10 % (VAL_SEED + seed) and initialisation; predictions in TEXTBOOK_GAPS order. */
  members: { seed: number; trainRows: number; valRows: number; valMae: number; bestEpoch: number; epochsRun: number; seconds: number; predictions: number[] }[];
  shippedSha256: string;
  /** predicted: the members' mean (the held-out ensemble); spread: their std. */
  compounds: {
    formula: string; reference: number; experimental: number | null; reports: number; predicted: number; spread: number; shipped: number;
    /** The shipped model's calibrated 90 % interval (runs against a model whose card has a calibration). */
    shippedInterval?: [number, number];
  }[];
  backend: string;
  date: string;
  command: string;
  commit: string;
}

/**
 * The latest run's held-out model beside every shipped model a stored run was made with (oldest first): a shipped
 * model made before the merged data had not seen these compounds; one trained by zoo:expt-gap has (it trains on all).
 */
function render(runs: readonly TextbookRun[]): string {
  const r = runs[runs.length - 1];
  if (!r) return '(no run stored yet: `npm run bench:gap-textbook`)';
  const shipped = runs.filter((x, i) => runs.findIndex((y) => y.shippedSha256 === x.shippedSha256) === i);
  const seen = r.compounds.filter((c) => c.experimental !== null);
  const maeExp = (pick: (i: number) => number) => fmt(mean(r.compounds.flatMap((c, i) => (c.experimental === null ? [] : [Math.abs(pick(i) - c.experimental)]))), 3);
  const maeRef = (pick: (i: number) => number) => fmt(mean(r.compounds.map((c, i) => Math.abs(pick(i) - c.reference))), 3);
  const models = [
    { name: `held-out merged-data ensemble of ${r.members.length}`, pick: (i: number) => r.compounds[i].predicted },
    ...shipped.map((x) => ({ name: `shipped ${x.shippedSha256.slice(0, 8)} (${x.date.slice(0, 10)})`, pick: (i: number) => x.compounds[i].shipped, run: x })),
  ];
  const cell = (m: (typeof models)[number], i: number) => {
    const iv = 'run' in m ? m.run.compounds[i].shippedInterval : undefined;
    return iv ? `${fmt(m.pick(i), 3)} [${fmt(iv[0], 3)}, ${fmt(iv[1], 3)}]` : fmt(m.pick(i), 3);
  };
  const inside = (x: TextbookRun, ref: (c: TextbookRun['compounds'][number]) => number | null) => {
    const cs = x.compounds.filter((c) => c.shippedInterval && ref(c) !== null);
    return `${cs.filter((c) => ref(c)! >= c.shippedInterval![0] && ref(c)! <= c.shippedInterval![1]).length} of ${cs.length}`;
  };
  const calibrated = shipped.filter((x) => x.compounds.some((c) => c.shippedInterval));
  return [
    table(['compound', 'merged experimental (eV, reports)', 'textbook (eV)', ...models.map((m) => `${m.name} (eV)`)],
      r.compounds.map((c, i) => [c.formula, c.experimental === null ? 'not in the data' : `${fmt(c.experimental, 3)} (${c.reports})`, fmt(c.reference, 3), ...models.map((m) => cell(m, i))])),
    '',
    `MAE against the merged experimental value over the ${seen.length} compounds the data has: ${models.map((m) => `${m.name} ${maeExp(m.pick)} eV`).join(', ')}. ` +
      `Against the textbook values over all ${r.compounds.length}: ${models.map((m) => `${maeRef(m.pick)}`).join(' / ')} eV.` +
      calibrated.map((x) => ` The 90 % intervals of shipped ${x.shippedSha256.slice(0, 8)} (in brackets) hold the merged experimental value for ${inside(x, (c) => c.experimental)} compounds and the textbook value for ${inside(x, (c) => c.reference)}.`).join(''),
    '',
    `Held out: ${r.heldOut.join(', ')}. Each member trains on ${r.members[0].trainRows} compositions and validates on ${r.members[0].valRows} ` +
      `(val MAE ${r.members.map((m) => fmt(m.valMae, 3)).join(', ')} eV; best epochs ${r.members.map((m) => m.bestEpoch).join(', ')}; ${fmt(mean(r.members.map((m) => m.seconds)), 3)} s each); ` +
      `the members' std per compound is ${r.compounds.map((c) => `${c.formula} ${fmt(c.spread, 2)}`).join(', ')} eV. ${r.protocol}. ` +
      `Command \`${r.command}\`, commit ${r.commit.slice(0, 7)}, ${r.backend}.`,
  ].join('\n');
}

/**
 * The shipped model's answers: calibrated value and 90 % interval where the card beside the file (same sha256) has a
 * composition calibration, else the mean of its members' physical values (models written before calibrations).
 */
function shippedGapAnswers(bytes: Uint8Array, experts: readonly ExpertWeights[], inputs: readonly ExpertInput[]): { value: number; interval?: [number, number] }[] {
  const members = loadEnsemble(new Uint8Array(bytes), (key, sha) => experts.find((e) => e.key === key && e.baseSha256 === sha)?.weights);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const card = (JSON.parse(readFileSync(join(ROOT, 'models', 'index.json'), 'utf8')) as ZooCard[]).find((c) => c.name === GAP_TASK && c.sha256 === sha256);
  const basis = card?.bases?.composition;
  if (basis) return predictCalibrated(membersOfBasis(members, 'composition'), basis.calibration, inputs, 0.9).map((v) => ({ value: v.value, interval: v.interval }));
  const values = members.map((m) => physicalValues(memberOutput(m), predictMixture(m, inputs)));
  return inputs.map((_, i) => ({ value: mean(values.map((v) => v[i])) }));
}

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    ...RECIPE_OPTIONS,
    seeds: { type: 'string', default: '0-4' },
    render: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});

if (values.render) {
  writeSection('textbook', render(loadRuns<TextbookRun>(RESULTS)));
} else {
  const backend = await initBackend('wasm');
  const merged = loadExptGaps();
  const compounds = TEXTBOOK_GAPS.map((t) => ({ ...t, key: compositionKey(parseFormula(t.formula).amounts) }));
  const heldOutKeys = new Set(compounds.map((c) => c.key));
  const train = merged.records.filter((r) => !heldOutKeys.has(r.key));
  const n = train.length;
  const formulas = [...train.map((r) => r.formula), ...compounds.map((c) => c.formula)];
  // Compounds the data lacks still get a prediction; their target (the textbook value) only enters the trainer's own
  // test MAE, which is not used here.
  const targets = [...train.map((r) => r.gap), ...compounds.map((c) => merged.records.find((r) => r.key === c.key)?.gap ?? c.reference)];
  const recipe = recipeFromOptions(values);
  const seeds = parseIndexRange(values.seeds!);
  const experts = await loadShippedExperts('composition');
  const allowed = gapExperts(experts);
  // The shipped model is read before training, so a model file replaced meanwhile is not mixed in.
  const shippedBytes = readFileSync(join(ROOT, 'models', 'expt_bandgap.matmoe'));
  const shippedAnswers = shippedGapAnswers(shippedBytes, experts, compounds.map((c) => ({ formula: c.formula })));
  const members: TextbookRun['members'] = [];
  for (const seed of seeds) {
    const split = holdOutCompositions(train, 0.1, VAL_SEED + seed);
    const r = await trainGapMixture({ formulas, targets, split: { ...split, test: compounds.map((_, i) => n + i) } }, { ...recipe, seed }, allowed);
    members.push({ seed, trainRows: split.train.length, valRows: split.val.length, valMae: r.valMae, bestEpoch: r.bestEpoch, epochsRun: r.epochsRun, seconds: Math.round(r.seconds * 10) / 10, predictions: r.testPredictions });
    process.stdout.write(`member ${seed}: val MAE ${r.valMae.toFixed(4)} eV, best epoch ${r.bestEpoch} of ${r.epochsRun}\n`);
  }
  const run: TextbookRun = {
    protocol: `k=${recipe.k} epochs=${recipe.epochs} patience=${recipe.patience} seeds=${values.seeds} val=0.1 loss=l1 gate=probe`,
    heldOut: compounds.filter((c) => merged.records.some((x) => x.key === c.key)).map((c) => c.formula),
    members,
    shippedSha256: createHash('sha256').update(shippedBytes).digest('hex'),
    compounds: compounds.map((c, i) => {
      const rec = merged.records.find((x) => x.key === c.key);
      const preds = members.map((m) => m.predictions[i]);
      const { value: shipped, interval: shippedInterval } = shippedAnswers[i];
      return { formula: c.formula, reference: c.reference, experimental: rec?.gap ?? null, reports: rec?.values.length ?? 0, predicted: mean(preds), spread: std(preds), shipped, ...(shippedInterval ? { shippedInterval } : {}) };
    }),
    backend: backend.name, date: new Date().toISOString(), command: npmCommand('bench:gap-textbook', process.argv.slice(2)), commit: gitCommit(),
  };
  if (!values['no-write']) {
    saveRun<TextbookRun>(RESULTS, run, (a, b) => a.protocol === b.protocol && a.shippedSha256 === b.shippedSha256);
    writeSection('textbook', render(loadRuns<TextbookRun>(RESULTS)));
  }
  process.stdout.write(`${render([run])}\n`);
}
