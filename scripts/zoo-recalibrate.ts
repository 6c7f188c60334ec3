/**
 * Refits the calibrations of shipped models from their members, without training: for every basis and split, the
 * members of that split (ensembleGroup = split seed) predict the split's validation rows, a calibration is fitted on
 * them (and its test coverage and the members' test MAE recorded, as zoo:tasks does), and the basis's calibration is
 * refitted on all splits' validation rows. For cards written by an earlier calibration method; the recipes, members
 * and candidate records stay as trained.
 *
 *   node --import tsx scripts/zoo-recalibrate.ts --only jarvis_2d_gap_opt[,…] [--no-commit]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/ml/backend.js';
import { loadAllShippedExperts } from '../src/ml/experts/registry.js';
import type { ExpertInput } from '../src/ml/experts/expert-kind.js';
import { loadEnsemble } from '../src/ml/mixture/ensemble.js';
import { predictMixture } from '../src/ml/mixture/model.js';
import { inverseTransform, memberOutput, type Basis } from '../src/ml/mixture/output.js';
import { fitCalibration, type CalibrationSet } from '../src/ml/uncertainty/calibration.js';
import { SHIPPED_MODELS_DIR } from '../src/services/shipped-models.js';
import { readSplit, readTaskRows, taskInputs } from './lib/tasks.js';
import { commitFiles } from './lib/git-commit.js';
import { basisSummary, compactCalibration, ensembleRecord, headlineMetrics, updateCard, type ZooCard } from './lib/zoo-card.js';

const { values } = parseArgs({ args: process.argv.slice(2).filter((a) => a !== '--'), options: { only: { type: 'string' }, 'no-commit': { type: 'boolean', default: false } } });
if (!values.only) throw new Error('name the models to recalibrate with --only a,b');
await initBackend('wasm');
const experts = await loadAllShippedExperts();
const indexPath = join(SHIPPED_MODELS_DIR, 'index.json');
const cards = JSON.parse(await readFile(indexPath, 'utf8')) as ZooCard[];

for (const name of values.only.split(',')) {
  const card = cards.find((c) => c.name === name && c.bases);
  if (!card) throw new Error(`no zoo card ${name} in models/index.json`);
  // Its splits are not the task's published ones (e.g. zoo:expt-gap's merged gaps): refitting on those would mix up rows.
  if (card.data) throw new Error(`${name} was not trained on the task's published splits; rerun the script that trained it`);
  const members = loadEnsemble(new Uint8Array(await readFile(join(SHIPPED_MODELS_DIR, card.file))), (key, sha) => experts.find((e) => e.key === key && e.baseSha256 === sha)?.weights);
  const rows = readTaskRows(name);
  const targets = rows.map((r) => inverseTransform(card.paperUnits.transform, r.target));
  const inputsOf: Record<Basis, () => ExpertInput[]> = { structure: () => taskInputs(rows), composition: () => rows.map((r) => ({ formula: r.formula })) };
  for (const basis of ['structure', 'composition'] as const) {
    const b = card.bases[basis];
    if (!b) continue;
    const inputs = inputsOf[basis]();
    const sets: CalibrationSet[] = [];
    for (const record of b.splits) {
      const group = b.members.map((i) => members[i]).filter((m) => memberOutput(m).group === record.split);
      const split = readSplit(name, record.split);
      const set: CalibrationSet = { members: group.map(memberOutput), raw: group.map((m) => predictMixture(m, split.val.map((r) => inputs[r]))), targets: split.val.map((r) => targets[r]) };
      sets.push(set);
      record.ensemble = ensembleRecord(group, fitCalibration([set]), split.val.length, split.test.map((r) => inputs[r]), split.test.map((r) => targets[r]), card.paperUnits.transform);
    }
    b.calibration = compactCalibration(fitCalibration(sets));
    b.summary = basisSummary(b.splits);
    process.stdout.write(`${name} ${basis}: ${b.calibration.space} space, test MAE ${b.summary.testMaePaperUnits.toPrecision(4)} (paper's units), 90 % coverage ${(100 * b.summary.coverage90).toFixed(1)} %, mean width ${(b.splits.reduce((a, s) => a + s.ensemble.meanWidth90, 0) / b.splits.length).toPrecision(3)}\n`);
  }
  const main = card.bases.structure ?? card.bases.composition!;
  card.bound = main.calibration.bound;
  Object.assign(card.metrics, headlineMetrics(main));
  if (!(await updateCard(indexPath, name, card.sha256, () => card))) throw new Error(`${name}: the model changed while it was recalibrated; rerun`);
}
if (!values['no-commit']) {
  const sha = await commitFiles(['models/index.json'], `zoo: recalibrated ${values.only} (calibration space chosen on validation rows)\n\nnode --import tsx scripts/zoo-recalibrate.ts --only ${values.only}`);
  process.stdout.write(`committed ${sha?.slice(0, 10) ?? '(nothing to commit)'}\n`);
}
