/**
 * What `npm run zoo:tasks` writes beside each shipped model in models/index.json: the fields the service has always
 * read (ShippedModelCard) plus, per basis, the members that serve it, its calibration, the candidate recipes of
 * every split with their validation (and, for the report, test) MAEs, and the provenance of the run.
 */
import { forwardTransform, physicalValues, memberOutput, type Basis, type TargetTransform } from '../../src/ml/mixture/output.js';
import { predictMixture, type MixtureModel } from '../../src/ml/mixture/model.js';
import type { ExpertInput } from '../../src/ml/experts/expert-kind.js';
import { calibratedValues, type Calibration } from '../../src/ml/uncertainty/calibration.js';
import { heldOutReport } from '../../src/ml/recipes/evaluate.js';
import type { SplitEnsemble } from '../../src/ml/recipes/split-ensemble.js';
import { candidateSummary, type CandidateSummary } from '../../src/ml/recipes/summary.js';
import type { ShippedModelCard } from '../../src/services/shipped-models.js';

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
}

export const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
export const std = (v: readonly number[]) => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));

/** MAE of physical predictions against physical targets, and in the paper's units (both through `native`). */
function maes(pred: ArrayLike<number>, targets: readonly number[], native: TargetTransform): { phys: number; paper: number } {
  let phys = 0;
  let paper = 0;
  targets.forEach((y, i) => {
    phys += Math.abs(pred[i] - y);
    paper += Math.abs(forwardTransform(native, pred[i]) - forwardTransform(native, y));
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
