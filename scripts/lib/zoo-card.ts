/**
 * What `npm run zoo:tasks` (and `npm run zoo:expt-gap`) writes beside each shipped model in models/index.json: the
 * fields the service has always read (ShippedModelCard) plus, per basis, the members that serve it, its calibration,
 * the candidate recipes of every split with their validation (and, for the report, test) MAEs, and the provenance of
 * the run.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { errorOnScale, physicalValues, memberOutput, type Basis, type TargetTransform } from '../../src/ml/mixture/output.js';
import { predictMixture, type MixtureModel } from '../../src/ml/mixture/model.js';
import type { ExpertInput } from '../../src/ml/experts/expert-kind.js';
import { calibratedValues, fitCalibration, type Calibration } from '../../src/ml/uncertainty/calibration.js';
import { heldOutReport } from '../../src/ml/recipes/evaluate.js';
import type { SplitEnsemble } from '../../src/ml/recipes/split-ensemble.js';
import { candidateSummary, type CandidateSummary } from '../../src/ml/recipes/summary.js';
import { ensembleGate } from '../../src/ml/stored-model.js';
import type { ShippedModelCard } from '../../src/services/shipped-models.js';
import type { TaskMeta } from './tasks.js';

/** Bumped when a card's meaning changes; `--skip-done` keeps cards of this version. */
export const ZOO_VERSION = 2;

/** A candidate as the card keeps it: its summary, and its test MAE for the report. */
export type CandidateRecord = CandidateSummary & {
  /** Looked at once, after the choice, for the report: physical units and the paper's units (after its transform). */
  testMae: number;
  testMaePaperUnits: number;
};

export interface SplitRecord {
  split: number;
  chosen: string;
  candidates: CandidateRecord[];
  skipped: { name: string; reason: string }[];
  /** The members of the chosen recipe together, with this split's own calibration (validation rows only). */
  ensemble: { members: number; testMae: number; testMaePaperUnits: number; coverage90: number; meanWidth90: number; valRows: number; testRows: number };
  seconds: number;
}

export interface BasisCard {
  /** Indices into the model file's members. */
  members: number[];
  /** Pooled over the validation rows of every split (each predicted by its own split's members). */
  calibration: Calibration;
  experts: { key: string; kind: string; weight: number }[];
  splits: SplitRecord[];
  summary: {
    /** Mean ± population std over the splits of the ensemble's test MAE (physical and paper units) and 90 % coverage. */
    testMae: number;
    testMaeStd: number;
    testMaePaperUnits: number;
    testMaePaperUnitsStd: number;
    /** The chosen candidate alone (first member) and the paper's recipe, paper units. */
    chosenSingleTestMaePaperUnits: number;
    paperRecipeTestMaePaperUnits: number;
    coverage90: number;
    chosen: Record<string, number>;
  };
}

export interface ZooCard extends ShippedModelCard {
  zooVersion: number;
  /** The task data's transform (the paper's units) that the card's `*PaperUnits` MAEs are in; the `unit` is physical. */
  paperUnits: { transform: TargetTransform; label: string | null };
  /** The property's lower bound and how the answers keep it. */
  bound: Calibration['bound'];
  bases: Partial<Record<Basis, BasisCard>>;
  provenance: { command: string; commit: string; dirty: boolean; date: string; wallSeconds: number; machine: string };
  /** How a crystal is answered when the blend of both groups validated better (`npm run zoo:blend`). */
  blend?: BlendCard;
  /**
   * Set when the model was trained on other data than the paper task's published splits (zoo:expt-gap's merged
   * experimental gaps): what that data is. Its MAEs are then not comparable with the paper's.
   */
  data?: Record<string, unknown>;
}

/**
 * A crystal answered by structure and composition members together: centre w·(structure members) + (1 − w)·
 * (composition members), the spread their weighted disagreement, calibrated on the validation rows of every split.
 */
export interface BlendCard {
  /** w, the structure members' share, chosen on the pooled validation rows of the 5 splits (1: structure members only). */
  structureWeight: number;
  candidates: { structureWeight: number; valMae: number }[];
  calibration: Calibration;
  /** Test rows, read once after the choice: per split, and their mean ± std (physical units and the paper's). */
  splits: { split: number; testMae: number; testMaePaperUnits: number; coverage90: number }[];
  summary: { testMae: number; testMaeStd: number; testMaePaperUnits: number; testMaePaperUnitsStd: number; coverage90: number };
  provenance: { command: string; commit: string; dirty: boolean; date: string };
}

export const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
export const std = (v: readonly number[]) => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));

/** MAE of physical predictions against physical targets, and in the paper's units (both through `native`). */
function maes(pred: ArrayLike<number>, targets: readonly number[], native: TargetTransform): { phys: number; paper: number } {
  let phys = 0;
  let paper = 0;
  targets.forEach((y, i) => {
    phys += Math.abs(pred[i] - y);
    paper += errorOnScale(native, pred[i], y);
  });
  return { phys: phys / targets.length, paper: paper / targets.length };
}

/** One split's record: every candidate and the ensemble evaluated once on the split's test rows. */
export function splitRecord(split: number, e: SplitEnsemble, testInputs: readonly ExpertInput[], testTargets: readonly number[], native: TargetTransform): SplitRecord {
  const candidates = e.candidates.map((c): CandidateRecord => {
    const m = maes(physicalValues(memberOutput(c.model), predictMixture(c.model, testInputs)), testTargets, native);
    return { ...candidateSummary(c), testMae: m.phys, testMaePaperUnits: m.paper };
  });
  return {
    split,
    chosen: e.chosen.name,
    candidates,
    skipped: e.skipped,
    ensemble: ensembleRecord(e.members, e.calibration, e.calibrationSet.targets.length, testInputs, testTargets, native),
    seconds: e.seconds,
  };
}

/** A split's members together on its test rows, read with the split's own calibration (its validation rows). */
export function ensembleRecord(members: readonly MixtureModel[], calibration: Calibration, valRows: number, testInputs: readonly ExpertInput[], testTargets: readonly number[], native: TargetTransform): SplitRecord['ensemble'] {
  const raw = members.map((m) => predictMixture(m, testInputs));
  const values = calibratedValues({ members: members.map(memberOutput), raw }, calibration, 0.9);
  const report = heldOutReport(values, testTargets);
  const m = maes(values.map((v) => v.value), testTargets, native);
  return { members: members.length, testMae: m.phys, testMaePaperUnits: m.paper, coverage90: report.coverage, meanWidth90: report.meanWidth, valRows, testRows: testTargets.length };
}

export function basisSummary(splits: readonly SplitRecord[]): BasisCard['summary'] {
  const pick = (f: (s: SplitRecord) => number) => splits.map(f);
  const chosenSingle = pick((s) => s.candidates.find((c) => c.name === s.chosen)!.testMaePaperUnits);
  const paperRecipe = pick((s) => s.candidates.find((c) => c.paper)?.testMaePaperUnits ?? Number.NaN);
  const chosen: Record<string, number> = {};
  for (const s of splits) chosen[s.chosen] = (chosen[s.chosen] ?? 0) + 1;
  return {
    testMae: mean(pick((s) => s.ensemble.testMae)),
    testMaeStd: std(pick((s) => s.ensemble.testMae)),
    testMaePaperUnits: mean(pick((s) => s.ensemble.testMaePaperUnits)),
    testMaePaperUnitsStd: std(pick((s) => s.ensemble.testMaePaperUnits)),
    chosenSingleTestMaePaperUnits: mean(chosenSingle),
    paperRecipeTestMaePaperUnits: mean(paperRecipe),
    coverage90: mean(pick((s) => s.ensemble.coverage90)),
    chosen,
  };
}

/** Scores rounded up to 5 significant digits: the card stays small and intervals never get narrower. */
export function compactCalibration(c: Calibration): Calibration {
  const up = (x: number) => {
    if (x === 0 || !Number.isFinite(x)) return x;
    const p = 10 ** (4 - Math.floor(Math.log10(Math.abs(x))));
    return Math.ceil(x * p) / p;
  };
  return { ...c, scores: c.scores.map(up) };
}

/** Members in file order: every basis's members, split by split. */
export function memberOrder(ensembles: Partial<Record<Basis, SplitEnsemble[]>>): { members: MixtureModel[]; indices: Partial<Record<Basis, number[]>> } {
  const members: MixtureModel[] = [];
  const indices: Partial<Record<Basis, number[]>> = {};
  for (const basis of ['structure', 'composition'] as const) {
    const list = ensembles[basis];
    if (!list) continue;
    indices[basis] = [];
    for (const e of list) {
      for (const m of e.members) {
        indices[basis]!.push(members.length);
        members.push(m);
      }
    }
  }
  return { members, indices };
}

/**
 * A basis's card from its split ensembles (`splits[i]` names ensembles[i]'s split): each split's test rows are read
 * here, once, and the calibration is pooled over every split's validation rows.
 */
export function basisCard(
  ensembles: readonly SplitEnsemble[], splits: readonly number[], members: number[],
  test: (i: number) => { inputs: readonly ExpertInput[]; targets: readonly number[] }, native: TargetTransform,
): BasisCard {
  const records = ensembles.map((e, i) => {
    const t = test(i);
    return splitRecord(splits[i], e, t.inputs, t.targets, native);
  });
  return {
    members,
    calibration: compactCalibration(fitCalibration(ensembles.map((e) => e.calibrationSet))),
    experts: ensembleGate(ensembles.flatMap((e) => e.members)),
    splits: records,
    summary: basisSummary(records),
  };
}

/** The card's headline metrics: those of its main basis (structure where it has one). */
export function headlineMetrics(main: BasisCard): Record<'testMae' | 'testMaeStd' | 'testMaePaperUnits' | 'testMaePaperUnitsStd' | 'coverage90', number> {
  const s = main.summary;
  return { testMae: s.testMae, testMaeStd: s.testMaeStd, testMaePaperUnits: s.testMaePaperUnits, testMaePaperUnitsStd: s.testMaePaperUnitsStd, coverage90: s.coverage90 };
}

/** What a card keeps of how the run went; `date` and the machine's load are read at the end of the run. */
export function runProvenance(command: string, revision: { commit: string; dirty: boolean }, wallSeconds: number, children: number): ZooCard['provenance'] {
  return {
    command, commit: revision.commit, dirty: revision.dirty, date: new Date().toISOString(), wallSeconds,
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${children} training children, load average ${loadavg()[0].toFixed(1)} at the end`,
  };
}

export interface ZooCardParts {
  task: TaskMeta;
  /** The model file's members, in file order (`memberOrder`). */
  members: readonly MixtureModel[];
  bytes: Uint8Array;
  bases: Partial<Record<Basis, BasisCard>>;
  /** How the recipes were chosen and trained, in words (`config.protocol`). */
  protocol: string;
  native: TargetTransform;
  /** The main basis's first member on its first split's test rows (the parity plot). */
  parity: { targets: number[]; predictions: number[] };
  trainingElements: Iterable<string>;
  backend: string;
  provenance: ZooCard['provenance'];
}

/** The task's title names the paper's transform ("… (ln)"); the model answers the physical property. */
export const physicalProperty = (title: string): string => title.replace(/\(ln\(1\+([^)]*)\)\)/, '($1)').replace(/\s*\(ln\)$/, '');

export function zooCard(p: ZooCardParts): ZooCard {
  const mainBasis: Basis = p.bases.structure ? 'structure' : 'composition';
  const main = p.bases[mainBasis];
  if (!main) throw new RangeError(`${p.task.key}: a card needs at least one basis`);
  return {
    name: p.task.key,
    file: `${p.task.key}.matmoe`,
    property: physicalProperty(p.task.title),
    unit: p.task.unit,
    inputKinds: ['formula', 'structure', 'cif', 'poscar'],
    config: { ...(p.members[main.members[0]].config as unknown as Record<string, unknown>), protocol: p.protocol },
    experts: main.experts,
    metrics: {
      members: p.members.length, basis: mainBasis, ...headlineMetrics(main),
      paperMoE18: p.task.moe18_mae, cgcnnScratch: p.task.cgcnn_scratch_mae, bestKnown: p.task.best_known_mae,
      trainSeconds: p.provenance.wallSeconds, backend: p.backend, parity: p.parity, trainingElements: [...new Set(p.trainingElements)].sort(),
    },
    sha256: createHash('sha256').update(p.bytes).digest('hex'),
    zooVersion: ZOO_VERSION,
    paperUnits: { transform: p.native, label: p.task.transform },
    bound: main.calibration.bound,
    bases: p.bases,
    provenance: p.provenance,
  };
}

/** A member's physical predictions beside the targets (the card's parity plot). */
export function parityOf(member: MixtureModel, inputs: readonly ExpertInput[], targets: readonly number[]): ZooCardParts['parity'] {
  return { targets: [...targets], predictions: Array.from(physicalValues(memberOutput(member), predictMixture(member, inputs))) };
}

const readCards = async (indexPath: string) => (existsSync(indexPath) ? (JSON.parse(await readFile(indexPath, 'utf8')) as ZooCard[]) : []);

/** Written beside and renamed over the index, so that another script never reads half a file. */
async function writeCards(indexPath: string, cards: ZooCard[]): Promise<void> {
  const tmp = `${indexPath}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(cards, null, 1)}\n`);
  await rename(tmp, indexPath);
}

/**
 * Replaces (or adds) one card in models/index.json, reading the file afresh: entries that another run wrote
 * meanwhile stay as they are, byte for byte (the file is written as JSON.stringify(cards, null, 1) throughout).
 */
export async function upsertCard(indexPath: string, card: ZooCard): Promise<void> {
  const cards = await readCards(indexPath);
  const at = cards.findIndex((c) => c.name === card.name);
  if (at >= 0) cards[at] = card;
  else cards.push(card);
  cards.sort((a, b) => a.name.localeCompare(b.name));
  await writeCards(indexPath, cards);
}

/** Replaces the card of model `name` by `update(card)` if it still describes the weights `sha256`; false if it does not. */
export async function updateCard(indexPath: string, name: string, sha256: string, update: (card: ZooCard) => ZooCard): Promise<boolean> {
  const cards = await readCards(indexPath);
  const at = cards.findIndex((c) => c.name === name && c.sha256 === sha256);
  if (at < 0) return false;
  cards[at] = update(cards[at]);
  await writeCards(indexPath, cards);
  return true;
}
