/**
 * What bench:paper stores and renders: the run records in bench/results/paper.json and the sections of
 * docs/benchmarks.md regenerated from them (between `paper:begin`/`paper:end` and `paper-composition:begin`/`end`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from '../src/paths.js';
import type { TaskMeta } from '../scripts/lib/tasks.js';
import { type MixtureMode } from '../src/ml/mixture/config.js';
import { writeDocSection } from '../scripts/lib/doc-section.js';
import { loadZooCards, renderZoo } from './zoo-report.js';
import { renderShipped } from './shipped-report.js';

const RESULTS = join(ROOT, 'bench', 'results', 'paper.json');
const DOC = join(ROOT, 'docs', 'benchmarks.md');

export interface RunRecord {
  task: string;
  seed: number;
  protocol: string;
  mode: MixtureMode;
  k: number;
  epochs: number;
  batchNorm: string;
  dedupe: number | null;
  testMae: number;
  valMae: number;
  bestEpoch: number;
  epochsRun: number;
  seconds: number;
  prepareSeconds: number;
  secondsPerEpoch: number;
  gate: Record<string, number>;
  backend: string;
  date: string;
  command: string;
}

export const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
/** Population std (numpy's default), as the paper's script reports it. */
export const std = (v: number[]) => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));
export const fmt = (x: number | null | undefined, d = 4) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x.toPrecision(d)).toString());

export function loadRecords(): RunRecord[] {
  return existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as RunRecord[]) : [];
}

export function saveRecord(r: RunRecord): void {
  const all = loadRecords().filter((x) => !(x.task === r.task && x.seed === r.seed && x.protocol === r.protocol));
  all.push(r);
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify(all, null, 1) + '\n');
}

/** The paper's MoE-(18) test MAE of a task, with its std where published. */
const paperMoe = (t: TaskMeta) => (t.moe18_mae === null ? '–' : `${fmt(t.moe18_mae)}${t.moe18_mae_std ? ` ± ${fmt(t.moe18_mae_std, 2)}` : ''}`);

const SHADES = [' ', '░', '▒', '▓', '█'];
/** The paper's CGCNN experts come first in the key list the documents are rendered with. */
const CGCNN_COUNT = 18;

function renderSection(records: RunRecord[], index: TaskMeta[], expertKeys: string[]): string {
  const lines: string[] = [];
  // The protocol with the most runs (the reproduction proper) first; variants after it.
  const protocols = [...new Set(records.map((r) => r.protocol))].sort(
    (a, b) => records.filter((r) => r.protocol === b).length - records.filter((r) => r.protocol === a).length || a.localeCompare(b),
  );
  const allTasks = index.filter((t) => records.some((r) => r.task === t.key));
  // Column headers name only what differs between the protocols.
  const tokens = protocols.map((p) => p.split(' '));
  const common = tokens[0].filter((tok) => tokens.every((ts) => ts.includes(tok)));
  const short = tokens.map((ts) => ts.filter((tok) => !common.includes(tok)).join(' ') || ts.join(' '));
  lines.push('### Summary: test MAE, mean over the seeds run (n)', '');
  if (common.length > 0 && protocols.length > 1) lines.push(`All: ${common.join(' ')}.`, '');
  lines.push(`| task | paper MoE-(18) | paper CGCNN scratch | best known | ${short.join(' | ')} |`);
  lines.push(`|---|---|---|---|${protocols.map(() => '---').join('|')}|`);
  for (const t of allTasks) {
    const cells = protocols.map((p) => {
      const maes = records.filter((r) => r.protocol === p && r.task === t.key).map((r) => r.testMae);
      return maes.length === 0 ? '' : `${fmt(mean(maes))} (${maes.length})`;
    });
    lines.push(`| ${t.key} | ${fmt(t.moe18_mae)} | ${fmt(t.cgcnn_scratch_mae)} | ${fmt(t.best_known_mae)} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  for (const protocol of protocols) {
    const rs = records.filter((r) => r.protocol === protocol);
    const tasks = index.filter((t) => rs.some((r) => r.task === t.key));
    lines.push(`### ${protocol}`, '');
    lines.push('| task | seeds | test MAE (ours) | paper MoE-(18) | paper CGCNN scratch | best known | best epoch | epochs run | s/epoch | wall s/seed |');
    lines.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const t of tasks) {
      const tr = rs.filter((r) => r.task === t.key).sort((a, b) => a.seed - b.seed);
      const maes = tr.map((r) => r.testMae);
      const ours = tr.length > 1 ? `${fmt(mean(maes))} ± ${fmt(std(maes), 2)}` : fmt(maes[0]);
      const paper = paperMoe(t);
      const scratch = t.cgcnn_scratch_mae === null ? '–' : `${fmt(t.cgcnn_scratch_mae)}${t.cgcnn_scratch_mae_std ? ` ± ${fmt(t.cgcnn_scratch_mae_std, 2)}` : ''}`;
      const best = t.best_known_mae === null ? '–' : `${fmt(t.best_known_mae)} (${t.best_known_method ?? '?'})`;
      lines.push(
        `| ${t.key} (${t.unit}) | ${tr.map((r) => r.seed).join(',')} | ${ours} | ${paper} | ${scratch} | ${best} | ${tr.map((r) => r.bestEpoch).join(',')} | ${tr.map((r) => r.epochsRun).join(',')} | ${fmt(mean(tr.map((r) => r.secondsPerEpoch)), 3)} | ${fmt(mean(tr.map((r) => r.seconds)), 3)} |`,
      );
    }
    lines.push('', 'Learned gate weights p_j at the best validation epoch (mean over seeds; columns in expert order):', '');
    // Columns: the CGCNN experts always (the paper's figure), other experts where some run gave them weight.
    const keys = expertKeys.filter((k, i) => i < CGCNN_COUNT || rs.some((r) => (r.gate[k] ?? 0) > 0));
    lines.push('| task | ' + keys.join(' | ') + ' |');
    lines.push('|---|' + keys.map(() => '---').join('|') + '|');
    const heat: string[] = [];
    const width = Math.max(...tasks.map((t) => t.key.length));
    for (const t of tasks) {
      const tr = rs.filter((r) => r.task === t.key);
      const w = keys.map((k) => mean(tr.map((r) => r.gate[k] ?? 0)));
      lines.push(`| ${t.key} | ` + w.map((x) => (x > 0 ? x.toFixed(2) : '')).join(' | ') + ' |');
      heat.push(t.key.padEnd(width) + ' |' + w.map((x) => SHADES[Math.min(4, Math.ceil(x * 4))].repeat(3)).join('') + '|');
    }
    lines.push('', '```', `${''.padEnd(width)}  ${keys.map((_, i) => String(i + 1).padStart(3)).join('')}`, ...heat, '```');
    lines.push('', `Heatmap: ${SHADES.slice(1).map((s, i) => `${s} ≤ ${(i + 1) / 4}`).join(', ')}; columns 1–${keys.length} = ${keys.map((k, i) => `${i + 1} ${k}`).join(', ')}.`, '');
    const cmds = [...new Set(rs.map((r) => r.command))];
    lines.push('Commands:', '', '```', ...cmds, '```', '');
    const be = [...new Set(rs.map((r) => r.backend))].join(', ');
    lines.push(`Backend: ${be}. Dates: ${[...new Set(rs.map((r) => r.date.slice(0, 10)))].join(', ')}.`, '');
  }
  return lines.join('\n');
}

/** The reproduction's protocol; the comparison arms are named by the tokens they add to it. */
const PAPER = 'mixture k=2 epochs=1000 bn=batch frozen-bn=source ties=index';
const ARMS = {
  alone: PAPER,
  mixed: `${PAPER} experts=cgcnn+composition comp-ft=3`,
  aloneProbe: `${PAPER} loss=l1 gate-init=probe`,
  mixedProbe: `${PAPER} experts=cgcnn+composition comp-ft=1 loss=l1 gate-init=probe`,
  mixedKinds: `${PAPER} experts=cgcnn+composition comp-ft=1 loss=l1 gate-init=probe-kinds`,
  compPaper: `${PAPER} experts=composition comp-ft=1`,
  compProbe: `${PAPER} experts=composition comp-ft=1 loss=l1 gate-init=probe`,
};

/** Test MAEs of `protocol` on `task`, keyed by seed. */
function bySeed(records: RunRecord[], protocol: string, task: string): Map<number, RunRecord> {
  return new Map(records.filter((r) => r.protocol === protocol && r.task === task).map((r) => [r.seed, r]));
}

/** Both arms on the seeds they share, so a difference is never a difference of splits. */
function paired(a: Map<number, RunRecord>, b: Map<number, RunRecord>): { a: number; b: number; n: number } | null {
  const seeds = [...a.keys()].filter((s) => b.has(s));
  if (seeds.length === 0) return null;
  return { a: mean(seeds.map((s) => a.get(s)!.testMae)), b: mean(seeds.map((s) => b.get(s)!.testMae)), n: seeds.length };
}

const cell = (runs: Map<number, RunRecord>) => {
  const maes = [...runs.values()].map((r) => r.testMae);
  if (maes.length === 0) return 'not run';
  return maes.length > 1 ? `${fmt(mean(maes))} ± ${fmt(std(maes), 2)} (${maes.length})` : `${fmt(maes[0])} (1)`;
};
const change = (p: { a: number; b: number } | null) => {
  if (p === null) return '';
  const pct = Math.round((100 * (p.b - p.a)) / p.a);
  return `${pct > 0 ? '+' : ''}${pct} %`;
};

/** Sorts paired comparisons into lower / higher / within 2 %. */
class Tally {
  private readonly lower: string[] = [];
  private readonly higher: string[] = [];
  private readonly same: string[] = [];

  add(task: string, p: { a: number; b: number } | null): void {
    if (!p) return;
    const rel = (p.b - p.a) / p.a;
    (rel < -0.02 ? this.lower : rel > 0.02 ? this.higher : this.same).push(`${task} ${change(p)}`);
  }

  say(what: string): string {
    const n = this.lower.length + this.higher.length + this.same.length;
    const list = (xs: string[]) => `${xs.length}${xs.length > 0 ? ` (${xs.join(', ')})` : ''}`;
    return `both arms run on ${n} structure tasks: lower ${what} on ${list(this.lower)}; higher on ${list(this.higher)}; within 2 % on ${list(this.same)}.`;
  }
}

function renderComposition(records: RunRecord[], index: TaskMeta[], compositionKeys: Set<string>): string {
  const lines: string[] = ['Test MAE, mean ± std over the seeds run (n); arms compared on the seeds both ran.', ''];
  lines.push('### Formula-only tasks (composition experts alone, leakage rule applied)', '');
  lines.push('| task | paper MoE-(18), structures | paper gate (equal logits, MSE) | probe gate + L1 loss |', '|---|---|---|---|');
  for (const t of index.filter((t) => !t.has_structures && t.available)) {
    lines.push(`| ${t.key} (${t.unit}) | ${paperMoe(t)} | ${cell(bySeed(records, ARMS.compPaper, t.key))} | ${cell(bySeed(records, ARMS.compProbe, t.key))} |`);
  }
  const structureTasks = index.filter((t) => t.has_structures && t.available);
  const compositionIn = (runs: Map<number, RunRecord>) =>
    runs.size === 0 ? '' : [...runs.values()].flatMap((r) => Object.entries(r.gate).filter(([k]) => compositionKeys.has(k)).map(([k, w]) => `${k} ${w.toFixed(2)}`)).join(', ') || 'none';
  // Where both arms ran, each shows the seeds they share, so that a difference is never one of splits.
  const onSeeds = (a: Map<number, RunRecord>, b: Map<number, RunRecord>) => (b.size === 0 ? a : new Map([...a].filter(([s]) => b.has(s))));
  const arms = (a: Map<number, RunRecord>, b: Map<number, RunRecord>) => (a.size + b.size === 0 ? ['', ''] : [cell(onSeeds(a, b)), cell(onSeeds(b, a))]);
  const runs = (t: TaskMeta) => Object.fromEntries(Object.entries(ARMS).map(([arm, p]) => [arm, bySeed(records, p, t.key)])) as Record<keyof typeof ARMS, Map<number, RunRecord>>;

  lines.push('', '### Structure tasks, paper gate: the 18 CGCNN experts alone vs the same 18 + the allowed composition experts', '');
  lines.push(
    "Composition experts read the composition of the structure's sites and fine-tune all three encoder layers (comp-ft=3); CGCNN experts fine-tune their last conv as in the paper.",
    '',
    '| task | paper MoE-(18) | CGCNN alone | + composition | change | composition experts in its final gate |',
    '|---|---|---|---|---|---|',
  );
  const paperTally = new Tally();
  for (const t of structureTasks) {
    const r = runs(t);
    const pair = paired(r.alone, r.mixed);
    lines.push(`| ${t.key} (${t.unit}) | ${fmt(t.moe18_mae)} | ${arms(r.alone, r.mixed).join(' | ')} | ${change(pair)} | ${compositionIn(r.mixed)} |`);
    paperTally.add(t.key, pair);
  }
  lines.push('', `Paper gate, ${paperTally.say('with composition experts')}`);

  lines.push('', '### Structure tasks, gates started from probes, L1 loss', '');
  lines.push(
    'Composition experts fine-tune their last encoder layer (comp-ft=1). probe: every expert ranked together by its ridge probe; probe-kinds: ranked within each kind, so the best CGCNN and the best composition expert start together. Changes are against CGCNN alone with the same probe gate and loss; the last column is the paper\'s recipe (CGCNN alone, paper gate, MSE) against both kinds with probe + L1.',
    '',
    '| task | CGCNN alone, probe | + composition, probe | change | composition experts in its final gate | + composition, probe-kinds | change | composition experts in its final gate | paper recipe → both kinds, probe |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  const tally = { probe: new Tally(), kinds: new Tally(), recipe: new Tally() };
  for (const t of structureTasks) {
    const r = runs(t);
    const pairProbe = paired(r.aloneProbe, r.mixedProbe);
    const pairKinds = paired(r.aloneProbe, r.mixedKinds);
    const recipe = paired(r.alone, r.mixedProbe);
    if (r.aloneProbe.size + r.mixedProbe.size + r.mixedKinds.size === 0) continue;
    lines.push(
      `| ${t.key} (${t.unit}) | ${cell(onSeeds(r.aloneProbe, r.mixedProbe))} | ${r.mixedProbe.size === 0 ? '' : cell(onSeeds(r.mixedProbe, r.aloneProbe))} | ${change(pairProbe)} | ${compositionIn(onSeeds(r.mixedProbe, r.aloneProbe))} | ${r.mixedKinds.size === 0 ? '' : cell(onSeeds(r.mixedKinds, r.aloneProbe))} | ${change(pairKinds)} | ${compositionIn(onSeeds(r.mixedKinds, r.aloneProbe))} | ${recipe ? `${fmt(recipe.a)} → ${fmt(recipe.b)} (${recipe.n}) ${change(recipe)}` : ''} |`,
    );
    tally.probe.add(t.key, pairProbe);
    tally.kinds.add(t.key, pairKinds);
    tally.recipe.add(t.key, recipe);
  }
  lines.push(
    '',
    `Probe gate + L1, ${tally.probe.say('with composition experts')}`,
    '',
    `Probe-kinds gate + L1, ${tally.kinds.say('with composition experts')}`,
    '',
    `Paper recipe → both kinds with probe gate + L1, ${tally.recipe.say('with both changes')}`,
  );
  return lines.join('\n');
}

export function writeDoc(records: RunRecord[], index: TaskMeta[], expertKeys: string[]): void {
  const composition = new Set(expertKeys.slice(CGCNN_COUNT));
  const title = '# Benchmarks\n';
  writeDocSection(DOC, 'paper', renderSection(records, index, expertKeys), { heading: '## Paper reproduction', title });
  writeDocSection(DOC, 'paper-composition', renderComposition(records, index, composition), { heading: '## Composition experts: alone on formula-only tasks, and beside the structure experts', title });
  writeDocSection(DOC, 'zoo', renderZoo(loadZooCards(), index, records), { heading: '## Recipes chosen on validation: the shipped models over the 5 published splits', title });
  writeDocSection(join(ROOT, 'docs', 'shipped-models.md'), 'shipped', renderShipped(), { heading: '## The models', title: '# Shipped models\n' });
}
