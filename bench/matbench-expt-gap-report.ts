/**
 * The stored runs of bench:matbench (bench/results/matbench-expt-gap.json) and their table in docs/expt-gaps.md:
 * per training-data variant, the seed-0 model, the mean of single models over seeds, and the ensemble of the seeds
 * (mean prediction), each as test MAE per fold and the 5-fold mean ± std, beside the Matbench v0.1 leaderboard.
 */
import type { Variant } from '../scripts/lib/matbench-expt-gap.js';
import { fmt, mean, std, table } from '../scripts/lib/expt-gap-doc.js';

export const MATBENCH_RESULTS = 'matbench-expt-gap.json';

/** Matbench v0.1 leaderboard for matbench_expt_gap (mean test MAE over the 5 folds, eV), as the issue quotes it. */
export const LEADERBOARD: readonly { name: string; mae: number }[] = [
  { name: 'RF-SCM/Magpie', mae: 0.4461 },
  { name: 'CrabNet', mae: 0.3463 },
  { name: 'MODNet', mae: 0.3327 },
  { name: 'Ax/SAASBO CrabNet', mae: 0.331 },
  { name: 'Darwin', mae: 0.2865 },
];

export interface MatbenchRun {
  variant: Variant;
  fold: number;
  /** Ensemble member: training seed fold + 100·seed, validation drawn with VAL_SEED + fold + 100·seed. Absent = 0. */
  seed?: number;
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
  /** Predictions for the fold's test rows in ascending row order, rounded to 1e-4 eV (for ensembles). */
  testPredictions?: number[];
  backend: string;
  date: string;
  command: string;
  commit: string;
}

export const sameRun = (a: MatbenchRun, b: MatbenchRun): boolean => a.variant === b.variant && a.fold === b.fold && (a.seed ?? 0) === (b.seed ?? 0) && a.protocol === b.protocol;

const FOLDS = [0, 1, 2, 3, 4];

/** `targets[f]` are the official test targets of fold f, in ascending row order. */
export function renderMatbench(runs: readonly MatbenchRun[], targets: readonly (readonly number[])[]): string {
  const groups = new Map<string, MatbenchRun[]>();
  for (const r of runs) groups.set(`${r.variant}\t${r.protocol}`, [...(groups.get(`${r.variant}\t${r.protocol}`) ?? []), r]);
  const rows: string[][] = [];
  const summary = (perFold: (number | undefined)[]): string => {
    const done = perFold.filter((x): x is number => x !== undefined);
    return done.length === 5 ? `**${fmt(mean(done))} ± ${fmt(std(done), 2)}**` : done.length === 0 ? '–' : `(${done.length}/5 folds) ${fmt(mean(done))}`;
  };
  for (const [id, rs] of [...groups].sort()) {
    const [variant, protocol] = id.split('\t');
    const seeds = [...new Set(rs.map((r) => r.seed ?? 0))].sort((a, b) => a - b);
    const first = FOLDS.map((f) => rs.find((r) => r.fold === f && (r.seed ?? 0) === 0));
    const doneFirst = first.filter((r): r is MatbenchRun => r !== undefined);
    const cost = `${Math.round(mean(doneFirst.map((r) => r.trainRows)))} / ${Math.round(mean(doneFirst.map((r) => r.valRows)))}`;
    rows.push([`**${variant}**, one model (seed 0)`, protocol, ...first.map((r) => fmt(r?.testMae)), summary(first.map((r) => r?.testMae)), fmt(mean(doneFirst.map((r) => r.valMae))), cost,
      `${fmt(mean(doneFirst.map((r) => r.bestEpoch)), 3)} / ${fmt(mean(doneFirst.map((r) => r.epochsRun)), 3)}`, fmt(mean(doneFirst.map((r) => r.seconds)), 3)]);
    if (seeds.length < 2) continue;
    const perSeed = FOLDS.map((f) => {
      const fr = rs.filter((r) => r.fold === f);
      return fr.length === seeds.length ? mean(fr.map((r) => r.testMae)) : undefined;
    });
    rows.push([`**${variant}**, mean of ${seeds.length} single models`, `seeds ${seeds.join(',')}`, ...perSeed.map((x) => fmt(x)), summary(perSeed), '', '', '', '']);
    const ensemble = FOLDS.map((f) => {
      const fr = rs.filter((r) => r.fold === f && r.testPredictions !== undefined);
      if (fr.length !== seeds.length || !targets[f]) return undefined;
      return mean(targets[f].map((t, i) => Math.abs(mean(fr.map((r) => r.testPredictions![i])) - t)));
    });
    rows.push([`**${variant}**, ensemble of ${seeds.length} (mean prediction)`, `seeds ${seeds.join(',')}`, ...ensemble.map((x) => fmt(x)), summary(ensemble), '', '', '', '']);
  }
  for (const l of LEADERBOARD) rows.push([l.name, 'Matbench v0.1 leaderboard', '', '', '', '', '', fmt(l.mae), '', '', '', '']);
  const commands = [...new Set(runs.map((r) => r.command))];
  return [
    table(['model / training data', 'protocol', 'fold 0', 'fold 1', 'fold 2', 'fold 3', 'fold 4', 'test MAE, mean ± std (eV)', 'val MAE', 'train / val rows', 'best / run epochs', 's per fold'], rows),
    '',
    `Std is over the 5 folds (population, as numpy). Runs: ${runs.length}, commits ${[...new Set(runs.map((r) => r.commit.slice(0, 7)))].join(', ')}, backend ${[...new Set(runs.map((r) => r.backend))].join(', ')}. ` +
      `Commands: ${commands.map((c) => `\`${c}\``).join(', ')}.`,
  ].join('\n');
}
