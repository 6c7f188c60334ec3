/**
 * Decides, per shipped model with structure and composition members, how a crystal is answered: by the structure
 * members alone (w = 1) or by a blend w·structure + (1 − w)·composition members, w ∈ {0, 0.1, …, 1} chosen on the
 * validation rows of the 5 published splits pooled (each split's rows predicted by the members trained on it; MAE in
 * the paper's units). The blend's calibration is fitted on the same rows; test rows are read once, afterwards, for
 * the card. Writes `blend` into each card of models/index.json as it finishes (the model files are unchanged).
 *
 *   npm run zoo:blend -- [--only a,b]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/ml/backend.js';
import { loadAllShippedExperts } from '../src/ml/experts/registry.js';
import type { ExpertInput } from '../src/ml/experts/expert-kind.js';
import { loadEnsemble } from '../src/ml/mixture/ensemble.js';
import type { MixtureModel } from '../src/ml/mixture/model.js';
import { errorOnScale, inverseTransform, memberOutput, transformOfLabel, type TargetTransform } from '../src/ml/mixture/output.js';
import { memberRawOutputs } from '../src/ml/recipes/evaluate.js';
import { blendMembers, calibratedValues, fitCalibration, intervalCoverage, type Calibration, type CalibrationSet } from '../src/ml/uncertainty/calibration.js';
import { SHIPPED_MODELS_DIR } from '../src/services/shipped-models.js';
import { codeRevision } from './lib/git-commit.js';
import { readSplit, readTaskRows, taskIndex, taskInputs } from './lib/tasks.js';
import { compactCalibration, mean, std, updateCard, type BlendCard, type ZooCard } from './lib/zoo-card.js';

const { values } = parseArgs({ args: process.argv.slice(2).filter((a) => a !== '--'), options: { only: { type: 'string' } }, strict: true });
const WEIGHTS = Array.from({ length: 11 }, (_, i) => i / 10);
const command = `npm run zoo:blend -- ${process.argv.slice(2).filter((a) => a !== '--').join(' ')}`.trim();
const revision = codeRevision();
await initBackend('wasm');
const experts = await loadAllShippedExperts();
const base = (key: string, sha: string) => experts.find((e) => e.key === key && e.baseSha256 === sha)?.weights;
const indexPath = join(SHIPPED_MODELS_DIR, 'index.json');
const cards = JSON.parse(await readFile(indexPath, 'utf8')) as ZooCard[];

/** One split's rows predicted by that split's structure members (on crystals) and composition members (on formulas). */
interface SplitRows {
  structure: MixtureModel[];
  composition: MixtureModel[];
  rawS: Float32Array[];
  rawC: Float32Array[];
  targets: number[];
}

function splitRows(all: MixtureModel[], split: number, rows: readonly number[], inputs: readonly ExpertInput[], formulas: readonly string[], targets: readonly number[]): SplitRows {
  const of = (basis: string) => all.filter((m) => memberOutput(m).basis === basis && memberOutput(m).group === split);
  const structure = of('structure');
  const composition = of('composition');
  return {
    structure, composition,
    rawS: memberRawOutputs(structure, rows.map((i) => inputs[i])),
    rawC: memberRawOutputs(composition, rows.map((i) => ({ formula: formulas[i] }))),
    targets: rows.map((i) => targets[i]),
  };
}

/**
 * The split's rows as one weighted ensemble: structure members share w, composition members 1 − w (a group with no
 * share is not read, so w = 1 is the structure members alone, calibrated as the zoo calibrated them).
 */
function blended(r: SplitRows, w: number): CalibrationSet {
  return { members: blendMembers(r.structure.map(memberOutput), r.composition.map(memberOutput), w), raw: [...r.rawS, ...r.rawC], targets: r.targets };
}

/** MAE in the paper's units of the values the service would answer (calibrated centre, bound kept). */
function servedMae(sets: readonly CalibrationSet[], calibration: Calibration, native: TargetTransform): number {
  let sum = 0;
  let n = 0;
  for (const set of sets) {
    calibratedValues(set, calibration, 0.9).forEach((v, i) => {
      sum += errorOnScale(native, v.value, set.targets[i]);
      n++;
    });
  }
  return sum / n;
}

for (const card of cards) {
  if (!card.bases?.structure || !card.bases.composition || card.data || (values.only && !values.only.split(',').includes(card.name))) continue;
  const t0 = performance.now();
  const meta = taskIndex().find((t) => t.key === card.name)!;
  const native = transformOfLabel(meta.transform);
  const rows = readTaskRows(meta.key);
  const inputs = taskInputs(rows);
  const formulas = rows.map((r) => r.formula);
  const targets = rows.map((r) => inverseTransform(native, r.target));
  const all = loadEnsemble(new Uint8Array(await readFile(join(SHIPPED_MODELS_DIR, card.file))), base);
  const splits = card.bases.structure.splits.map((s) => s.split);
  const val = splits.map((s) => splitRows(all, s, readSplit(meta.key, s).val, inputs, formulas, targets));
  const fits = WEIGHTS.map((w) => {
    const sets = val.map((r) => blended(r, w));
    const calibration = compactCalibration(fitCalibration(sets));
    return { structureWeight: w, valMae: servedMae(sets, calibration, native), calibration };
  });
  const candidates = fits.map(({ structureWeight, valMae }) => ({ structureWeight, valMae }));
  const { structureWeight: w, calibration } = fits.reduce((a, b) => (b.valMae < a.valMae ? b : a));
  // Test rows, once, for the card.
  const perSplit = splits.map((s) => {
    const test = blended(splitRows(all, s, readSplit(meta.key, s).test, inputs, formulas, targets), w);
    const v = calibratedValues(test, calibration, 0.9);
    const phys = v.reduce((a, x, i) => a + Math.abs(x.value - test.targets[i]), 0) / v.length;
    const paper = v.reduce((a, x, i) => a + errorOnScale(native, x.value, test.targets[i]), 0) / v.length;
    return { split: s, testMae: phys, testMaePaperUnits: paper, coverage90: intervalCoverage(v, test.targets) };
  });
  const pick = (f: (x: (typeof perSplit)[number]) => number) => perSplit.map(f);
  const blend: BlendCard = {
    structureWeight: w, candidates, calibration, splits: perSplit,
    summary: {
      testMae: mean(pick((x) => x.testMae)), testMaeStd: std(pick((x) => x.testMae)),
      testMaePaperUnits: mean(pick((x) => x.testMaePaperUnits)), testMaePaperUnitsStd: std(pick((x) => x.testMaePaperUnits)),
      coverage90: mean(pick((x) => x.coverage90)),
    },
    provenance: { command, commit: revision.commit, dirty: revision.dirty, date: new Date().toISOString() },
  };
  // Written per card into the index as it is now (zoo:tasks may have replaced other cards meanwhile), and only onto the
  // model it was computed for.
  const written = await updateCard(indexPath, card.name, card.sha256, (now) => ({ ...now, blend }));
  if (!written) process.stderr.write(`${card.name}: the model changed while its blend was computed; not written (rerun zoo:blend -- --only ${card.name})\n`);
  process.stdout.write(`${card.name}: w ${w} (val MAE ${candidates.map((c) => `${c.structureWeight}: ${c.valMae.toPrecision(4)}`).join(', ')}); test ${blend.summary.testMaePaperUnits.toPrecision(4)} ± ${blend.summary.testMaePaperUnitsStd.toPrecision(2)} in the paper's units (structure members alone ${card.bases.structure.summary.testMaePaperUnits.toPrecision(4)}), 90 % coverage ${(100 * blend.summary.coverage90).toFixed(1)} %, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}

