/**
 * How the merged-data model does on textbook compounds it has never seen: one model trained on every merged
 * composition except the textbook compounds (scripts/lib/textbook-gaps.ts; a seeded 10 % of the rest is validation),
 * then asked for each of them, beside the merged experimental median, the textbook value and the model shipped in
 * models/expt_bandgap.matmoe at the time of the run (identified by its sha256; the mean of its members).
 *
 *   npm run bench:gap-textbook -- [--epochs 1000] [--patience 500] [--k 2] [--seed 0] [--no-write]
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
import { loadEnsemble } from '../src/ml/mixture/ensemble.js';
import { predictMixture } from '../src/ml/mixture/model.js';
import { ROOT } from '../src/paths.js';
import { compositionKey } from '../scripts/lib/expt-gap-merge.js';
import { loadExptGaps } from '../scripts/lib/expt-gap-stats.js';
import { RECIPE_OPTIONS, gapExperts, recipeFromOptions, trainGapMixture } from '../scripts/lib/expt-gap-training.js';
import { holdOutCompositions } from '../scripts/lib/matbench-expt-gap.js';
import { gitCommit, npmCommand } from '../scripts/lib/run-info.js';
import { TEXTBOOK_GAPS } from '../scripts/lib/textbook-gaps.js';
import { fmt, loadRuns, mean, saveRun, table, writeSection } from './expt-gap-report.js';

const RESULTS = 'expt-gap-textbook.json';
const VAL_SEED = 4242;

interface TextbookRun {
  protocol: string;
  /** Merged compositions held out (the textbook compounds the merged set has). */
  heldOut: string[];
  trainRows: number;
  valRows: number;
  valMae: number;
  bestEpoch: number;
  epochsRun: number;
  seconds: number;
  shippedSha256: string;
  compounds: { formula: string; reference: number; experimental: number | null; reports: number; predicted: number; shipped: number }[];
  backend: string;
  date: string;
  command: string;
  commit: string;
}

function render(runs: readonly TextbookRun[]): string {
  const r = runs[runs.length - 1];
  if (!r) return '(no run stored yet: `npm run bench:gap-textbook`)';
  const seen = r.compounds.filter((c) => c.experimental !== null);
  const mae = (pick: (c: TextbookRun['compounds'][number]) => number) => mean(seen.map((c) => Math.abs(pick(c) - c.experimental!)));
  const maeRef = (pick: (c: TextbookRun['compounds'][number]) => number) => mean(r.compounds.map((c) => Math.abs(pick(c) - c.reference)));
  return [
    table(['compound', 'merged experimental (eV, reports)', 'textbook (eV)', 'held-out merged-data model (eV)', `shipped model at the run (${r.shippedSha256.slice(0, 8)}) (eV)`],
      r.compounds.map((c) => [c.formula, c.experimental === null ? 'not in the data' : `${fmt(c.experimental, 3)} (${c.reports})`, fmt(c.reference, 3), `**${fmt(c.predicted, 3)}**`, fmt(c.shipped, 3)])),
    '',
    `MAE against the merged experimental value over the ${seen.length} compounds the data has: held-out model ${fmt(mae((c) => c.predicted), 3)} eV, shipped model ${fmt(mae((c) => c.shipped), 3)} eV. ` +
      `Against the textbook values over all ${r.compounds.length}: ${fmt(maeRef((c) => c.predicted), 3)} vs ${fmt(maeRef((c) => c.shipped), 3)} eV.`,
    '',
    `Held out: ${r.heldOut.join(', ')}; trained on ${r.trainRows} compositions, validation ${r.valRows} (val MAE ${fmt(r.valMae)} eV, best epoch ${r.bestEpoch} of ${r.epochsRun}, ${fmt(r.seconds, 3)} s); ${r.protocol}. ` +
      `Command \`${r.command}\`, commit ${r.commit.slice(0, 7)}, ${r.backend}.`,
  ].join('\n');
}

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    ...RECIPE_OPTIONS,
    seed: { type: 'string', default: '0' },
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
  const split = holdOutCompositions(train, 0.1, VAL_SEED);
  const n = train.length;
  const formulas = [...train.map((r) => r.formula), ...compounds.map((c) => c.formula)];
  // Held-out compounds without an experimental value still get a prediction; their target is a placeholder never read.
  const targets = [...train.map((r) => r.gap), ...compounds.map((c) => merged.records.find((r) => r.key === c.key)?.gap ?? c.reference)];
  const recipe = { ...recipeFromOptions(values), seed: Number(values.seed) };
  const experts = await loadShippedExperts('composition');
  const allowed = gapExperts(experts);
  const r = await trainGapMixture({ formulas, targets, split: { ...split, test: compounds.map((_, i) => n + i) } }, recipe, allowed);
  const shippedBytes = readFileSync(join(ROOT, 'models', 'expt_bandgap.matmoe'));
  const members = loadEnsemble(new Uint8Array(shippedBytes), (key, sha) => experts.find((e) => e.key === key && e.baseSha256 === sha)?.weights);
  const shippedPreds = members.map((mm) => predictMixture(mm, compounds.map((c) => ({ formula: c.formula }))));
  const run: TextbookRun = {
    protocol: `k=${recipe.k} epochs=${recipe.epochs} patience=${recipe.patience} seed=${recipe.seed} val=0.1 loss=l1 gate=probe`,
    heldOut: compounds.filter((c) => merged.records.some((x) => x.key === c.key)).map((c) => c.formula),
    trainRows: split.train.length, valRows: split.val.length, valMae: r.valMae, bestEpoch: r.bestEpoch, epochsRun: r.epochsRun, seconds: Math.round(r.seconds * 10) / 10,
    shippedSha256: createHash('sha256').update(shippedBytes).digest('hex'),
    compounds: compounds.map((c, i) => {
      const rec = merged.records.find((x) => x.key === c.key);
      return { formula: c.formula, reference: c.reference, experimental: rec?.gap ?? null, reports: rec?.values.length ?? 0, predicted: r.testPredictions[i], shipped: mean(shippedPreds.map((p) => p[i])) };
    }),
    backend: backend.name, date: new Date().toISOString(), command: npmCommand('bench:gap-textbook', process.argv.slice(2)), commit: gitCommit(),
  };
  if (!values['no-write']) {
    saveRun<TextbookRun>(RESULTS, run, (a, b) => a.protocol === b.protocol && a.shippedSha256 === b.shippedSha256);
    writeSection('textbook', render(loadRuns<TextbookRun>(RESULTS)));
  }
  process.stdout.write(`${render([run])}\n`);
}
