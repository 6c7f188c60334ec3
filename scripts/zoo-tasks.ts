/**
 * Trains the shipped models: one per available paper task, named by its task key. A structure task's model holds two
 * groups of members: structure members (mixtures over the 18 CGCNN experts, with the leakage-allowed composition
 * experts where validation prefers them) and composition members (composition experts only); formula-only tasks hold
 * composition members only. For every published split (seeds 0-4) and basis the recipe is chosen on that split's
 * validation rows (src/ml/recipes: candidates trained on the training rows, scored by validation MAE in physical
 * units), then `--members` seeds of it are trained and calibrated on the validation rows. The model answers in the
 * physical unit (targets the paper stores as ln(y) are read back to y, and members record the transform they trained
 * on); test rows are looked at once, after everything is trained, for the report in the card.
 *
 *   node --import tsx scripts/zoo-tasks.ts [--only a,b] [--skip-done] [--seeds 0-4] [--epochs 300] [--patience 100]
 *        [--members 2] [--composition-members 3] [--parallel 2] [--max-candidates 5] [--tasks-at-once 2] [--no-commit]
 *        [--select-by native|physical]   (native, the default: candidates compared, and each run's best epoch kept,
 *        after the task data's own transform, e.g. ln ε; the same as physical for a task stored untransformed)
 *
 * Trainings run in child processes (one per core, `--parallel`); tasks are worked on in order (tasks with a paper
 * value first), the next starting while the last jobs of one finish. Each finished task writes models/<task>.matmoe,
 * its card in models/index.json and is committed at once, with the command and code commit in the card.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseFormula } from '../src/chem/formula.js';
import { initBackend } from '../src/ml/backend.js';
import { loadShippedExperts } from '../src/ml/experts/registry.js';
import { allowedExperts } from '../src/ml/experts/leakage.js';
import type { ExpertInput } from '../src/ml/experts/expert-kind.js';
import { serializeEnsemble } from '../src/ml/mixture/ensemble.js';
import { inverseTransform, transformOfLabel, type Basis } from '../src/ml/mixture/output.js';
import { childProcessRunner } from '../src/ml/recipes/child-runner.js';
import { CANDIDATE_PROTOCOL } from '../src/ml/recipes/candidates.js';
import { trainSplitEnsemble, type SplitEnsemble } from '../src/ml/recipes/split-ensemble.js';
import { SHIPPED_MODELS_DIR } from '../src/services/shipped-models.js';
import { readSplit, readTaskRows, taskIndex, taskInputs, type TaskMeta } from './lib/tasks.js';
import { codeRevision, commitFiles } from './lib/git-commit.js';
import { basisCard, memberOrder, parityOf, runProvenance, upsertCard, zooCard, ZOO_VERSION, type BasisCard, type ZooCard } from './lib/zoo-card.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    only: { type: 'string' },
    'skip-done': { type: 'boolean', default: false },
    seeds: { type: 'string', default: '0-4' },
    epochs: { type: 'string', default: String(CANDIDATE_PROTOCOL.epochs) },
    patience: { type: 'string', default: String(CANDIDATE_PROTOCOL.patience) },
    k: { type: 'string', default: String(CANDIDATE_PROTOCOL.k) },
    members: { type: 'string', default: '2' },
    'composition-members': { type: 'string', default: '3' },
    parallel: { type: 'string', default: '2' },
    'max-candidates': { type: 'string', default: '5' },
    'tasks-at-once': { type: 'string', default: '2' },
    'no-commit': { type: 'boolean', default: false },
    // The paper's units: for a target the data store as ln, relative errors decide, not one row of ε = 10⁶.
    'select-by': { type: 'string', default: 'native' },
  },
});
const selectBy = values['select-by'] as 'physical' | 'native';
if (selectBy !== 'physical' && selectBy !== 'native') throw new Error('--select-by must be physical or native');
const [s0, s1] = values.seeds!.split('-').map(Number);
const seeds = Array.from({ length: (s1 ?? s0) - s0 + 1 }, (_, i) => s0 + i);
const protocol = { epochs: Number(values.epochs), patience: Number(values.patience), k: Number(values.k) };
const membersOf = (b: Basis) => Number(b === 'structure' ? values.members : values['composition-members']);
const command = `npm run zoo:tasks -- ${process.argv.slice(2).filter((a) => a !== '--').join(' ')}`.trim();
const revision = codeRevision();
const backend = await initBackend('wasm');
const cgcnn = await loadShippedExperts('cgcnn');
const composition = await loadShippedExperts('composition');
const allExperts = [...cgcnn, ...composition];

await mkdir(SHIPPED_MODELS_DIR, { recursive: true });
const indexPath = join(SHIPPED_MODELS_DIR, 'index.json');
const cards: ZooCard[] = existsSync(indexPath) ? (JSON.parse(await readFile(indexPath, 'utf8')) as ZooCard[]) : [];
const done = new Set(cards.filter((c) => c.zooVersion === ZOO_VERSION).map((c) => c.name));
// Tasks with a paper value first (what the report is measured on), then the others; smaller tasks first within each.
// A model trained on other data than the task's (zoo:expt-gap, its card has `data`) is replaced only when named.
const replacedByOtherData = new Set(cards.filter((c) => c.data).map((c) => c.name));
const tasks = taskIndex()
  .filter((t) => t.available && (values.only ? values.only.split(',').includes(t.key) : !replacedByOtherData.has(t.key)) && !(values['skip-done'] && done.has(t.key)))
  .sort((a, b) => Number(a.moe18_mae === null) - Number(b.moe18_mae === null) || Number(!a.has_structures) - Number(!b.has_structures) || (a.rows ?? 0) - (b.rows ?? 0));
if (tasks.length === 0) throw new Error(`no available task left to train (--only ${values.only ?? 'all'}${values['skip-done'] ? ', --skip-done' : ''})`);
process.stdout.write(`zoo: ${tasks.length} tasks (${tasks.map((t) => t.key).join(', ')}), ${command}, code ${revision.commit.slice(0, 10)}${revision.dirty ? ' (dirty)' : ''}\n`);

const runner = childProcessRunner({ parallel: Number(values.parallel) });
const tZoo = performance.now();
let writing: Promise<unknown> = Promise.resolve();

async function trainTask(meta: TaskMeta, rank: number): Promise<void> {
  const t0 = performance.now();
  const native = transformOfLabel(meta.transform);
  const rows = readTaskRows(meta.key);
  // The paper stores some targets transformed (ln); models learn and answer the physical value.
  const targets = rows.map((r) => inverseTransform(native, r.target));
  const bases: Basis[] = meta.has_structures ? ['structure', 'composition'] : ['composition'];
  const inputsOf: Record<Basis, ExpertInput[]> = {
    structure: meta.has_structures ? taskInputs(rows) : [],
    composition: rows.map((r) => ({ formula: r.formula })),
  };
  const pools = { cgcnn, composition: allowedExperts(meta.key, composition) };
  const splits = seeds.map((s) => readSplit(meta.key, s));
  const ensembles: Partial<Record<Basis, SplitEnsemble[]>> = {};
  await Promise.all(bases.map(async (basis) => {
    ensembles[basis] = await Promise.all(seeds.map((seed, i) =>
      trainSplitEnsemble(
        { inputs: inputsOf[basis], targets, split: { train: splits[i].train, val: splits[i].val } },
        {
          basis, experts: pools, members: membersOf(basis), nativeTransform: native, protocol, seed, group: seed, runner, priority: rank,
          maxCandidates: Number(values['max-candidates']), selectBy,
          onCandidate: (c) => process.stdout.write(`${meta.key} ${basis} split ${seed}: ${c.recipe.name} val MAE ${c.valMae.toPrecision(4)} ${meta.unit} (best epoch ${c.bestEpoch + 1}/${c.epochsRun}, ${c.seconds.toFixed(0)} s)\n`),
        },
      )));
  }));

  // Everything is trained: test rows are read now, once, for the report.
  const basisCards: Partial<Record<Basis, BasisCard>> = {};
  const { members, indices } = memberOrder(ensembles);
  for (const basis of bases) {
    basisCards[basis] = basisCard(ensembles[basis]!, seeds, indices[basis]!, (i) => ({ inputs: splits[i].test.map((r) => inputsOf[basis][r]), targets: splits[i].test.map((r) => targets[r]) }), native);
  }
  const mainBasis: Basis = basisCards.structure ? 'structure' : 'composition';
  const bytes = serializeEnsemble(members, (key, sha) => allExperts.find((e) => e.key === key && e.baseSha256 === sha)?.weights);
  const trainingElements = splits.flatMap((s) => s.train.flatMap((i) => Object.keys(parseFormula(rows[i].formula).amounts)));
  const wallSeconds = Math.round((performance.now() - t0) / 100) / 10;
  const file = `${meta.key}.matmoe`;
  const card = zooCard({
    task: meta, members, bytes, bases: basisCards, native, trainingElements, backend: backend.name,
    protocol: `recipe chosen per split on validation MAE (${selectBy === 'native' ? "the paper's units" : 'physical units'}) among ${protocol.epochs}-epoch candidates (patience ${protocol.patience}, k ${protocol.k}); ${membersOf(mainBasis)} members per split, splits seeds ${values.seeds}`,
    parity: parityOf(ensembles[mainBasis]![0].members[0], splits[0].test.map((r) => inputsOf[mainBasis][r]), splits[0].test.map((r) => targets[r])),
    provenance: runProvenance(command, revision, wallSeconds, runner.parallel),
  });
  // One task at a time writes models/index.json and commits.
  writing = writing.then(async () => {
    await writeFile(join(SHIPPED_MODELS_DIR, file), bytes);
    await upsertCard(indexPath, card);
    const summary = bases.map((b) => `${b} ${basisCards[b]!.summary.testMaePaperUnits.toPrecision(4)} ± ${basisCards[b]!.summary.testMaePaperUnitsStd.toPrecision(2)} (90 % coverage ${(100 * basisCards[b]!.summary.coverage90).toFixed(0)} %)`).join(', ');
    const line = `${meta.key}: test MAE ${summary} in the paper's units (paper MoE-(18) ${meta.moe18_mae ?? '–'}), ${(bytes.byteLength / 1e6).toFixed(2)} MB, ${wallSeconds} s`;
    process.stdout.write(`${line}\n`);
    if (!values['no-commit']) {
      const sha = await commitFiles([`models/${file}`, 'models/index.json'], `zoo: ${line}\n\n${command} (code ${revision.commit.slice(0, 10)})`);
      process.stdout.write(`${meta.key}: committed ${sha?.slice(0, 10) ?? '(nothing to commit)'}\n`);
    }
  });
  await writing;
}

// A few tasks at once keep both cores busy while one task's last jobs finish; the runner orders jobs by task rank.
let next = 0;
const failures: string[] = [];
await Promise.all(Array.from({ length: Math.max(1, Number(values['tasks-at-once'])) }, async () => {
  while (next < tasks.length) {
    const rank = next++;
    const meta = tasks[rank];
    try {
      await trainTask(meta, rank);
    } catch (err) {
      failures.push(meta.key);
      process.stderr.write(`${meta.key}: failed: ${(err as Error).stack ?? err}\n`);
    }
  }
}));
await runner.close();
process.stdout.write(`zoo: ${tasks.length - failures.length} of ${tasks.length} tasks in ${((performance.now() - tZoo) / 1000).toFixed(0)} s${failures.length ? `; failed: ${failures.join(', ')}` : ''}\n`);
if (failures.length > 0) process.exitCode = 1;
