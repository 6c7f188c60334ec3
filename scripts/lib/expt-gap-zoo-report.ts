/**
 * The `zoo` section of docs/expt-gaps.md, rendered from the shipped expt_bandgap card alone (models/index.json), so
 * that `npm run zoo:expt-gap -- --render` rewrites it without training: per split the chosen recipe, the ensemble's
 * test MAE and interval coverage; per candidate its validation MAE (what chose) and test MAE (looked at after).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { conformalQuantile } from '../../src/ml/uncertainty/calibration.js';
import { SHIPPED_MODELS_DIR } from '../../src/services/shipped-models.js';
import { fmt, mean, std, table } from './expt-gap-doc.js';
import type { ZooCard } from './zoo-card.js';

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const pm = (v: readonly number[]) => `${fmt(mean(v))} ± ${fmt(std(v), 2)}`;

export function renderShippedGapModel(card: ZooCard, splitSeed: number): string {
  const b = card.bases.composition;
  if (!b) throw new RangeError(`${card.name}: no composition basis in the card`);
  const p = card.provenance;
  const compositions = Number(card.data?.compositions);
  const bytes = statSync(join(SHIPPED_MODELS_DIR, card.file)).size;
  const names = [...new Set(b.splits.flatMap((s) => s.candidates.map((c) => c.name)))];
  // One line per skipped recipe: the reason's numbers (a kurtosis, a skewness) differ slightly between splits.
  const skipped = [...new Map(b.splits.flatMap((s) => s.skipped).reverse().map((x) => [x.name, x])).values()].reverse();
  const cov = b.splits.map((s) => s.ensemble.coverage90);
  const c = b.calibration;
  return [
    `\`${p.command}\` (commit ${p.commit.slice(0, 7)}${p.dirty ? ', uncommitted changes' : ''}, ${String(card.metrics.backend)}, ${p.machine}; ${fmt(p.wallSeconds, 4)} s wall, ${p.date.slice(0, 10)}) wrote \`models/${card.file}\` ` +
      `(sha256 ${card.sha256.slice(0, 12)}…, ${bytes} bytes): ${b.members.length} members, ${b.splits.length} splits × ${b.members.length / b.splits.length}.`,
    '',
    table([`split s (seed ${splitSeed} + s)`, 'train / val / test compositions', 'chosen on validation', 'test MAE, chosen alone (eV)', 'test MAE, ensemble (eV)', '90 % interval coverage (test)', 'mean 90 % width (eV)'],
      b.splits.map((s) => [
        String(s.split), `${compositions - s.ensemble.valRows - s.ensemble.testRows} / ${s.ensemble.valRows} / ${s.ensemble.testRows}`, `\`${s.chosen}\``,
        fmt(s.candidates.find((x) => x.name === s.chosen)!.testMae), fmt(s.ensemble.testMae), pct(s.ensemble.coverage90), fmt(s.ensemble.meanWidth90, 3),
      ])),
    '',
    'Every candidate (validation MAE chose; test MAE was computed once, after the choice; best epoch of the run):',
    '',
    table(['candidate', ...b.splits.map((s) => `split ${s.split}: val / test MAE (eV)`), 'chosen'],
      names.map((name) => [
        `\`${name}\`${b.splits.some((s) => s.candidates.find((x) => x.name === name)?.paper) ? ' (paper)' : ''}`,
        ...b.splits.map((s) => {
          const x = s.candidates.find((y) => y.name === name);
          return x ? `${fmt(x.valMae)} / ${fmt(x.testMae)} (${x.bestEpoch + 1})` : '–';
        }),
        String(b.splits.filter((s) => s.chosen === name).length),
      ])),
    '',
    `**Test MAE ${pm(b.splits.map((s) => s.ensemble.testMae))} eV** (each split's ${b.members.length / b.splits.length} members on its own test 10 %, mean ± population std over the ${b.splits.length} splits; ` +
      `the chosen candidate alone ${pm(b.splits.map((s) => s.candidates.find((x) => x.name === s.chosen)!.testMae))}, the paper's recipe ${pm(b.splits.map((s) => s.candidates.find((x) => x.paper)?.testMae ?? Number.NaN))}). ` +
      `**90 % intervals cover ${pct(mean(cov))} of test targets** (per split ${cov.map((x) => (100 * x).toFixed(1)).join(', ')} %; each split's members read with the calibration of its own validation rows). ` +
      `Recipes chosen: ${Object.entries(b.summary.chosen).map(([k, n]) => `\`${k}\` ${n}×`).join(', ')}. Gate (mean over members): ${b.experts.map((e) => `${e.key} ${e.weight.toFixed(2)}`).join(', ')}.`,
    '',
    `Shipped calibration: pooled over the ${c.scores.length} validation rows of all splits (\`${c.method}\`, space ${c.space}, spread floor s0 ${fmt(c.s0, 3)} eV, ` +
      `90 % multiplier ${fmt(conformalQuantile(c.scores, 0.9), 3)}, ${c.membersPerGroup} members per group, bound ${c.bound ? `≥ ${c.bound.min} eV by ${c.bound.method}` : 'none'}).` +
      (skipped.length > 0 ? ` Candidates not trained: ${skipped.map((x) => `\`${x.name}\` (${x.reason})`).join('; ')}.` : ''),
  ].join('\n');
}
