/**
 * Paper reproduction: trains the mixture of the 18 CGCNN experts on the paper's published splits and compares
 * test MAEs with the paper's MoE-(18), CGCNN from scratch and the best known result (../shared/data/tasks/index.json).
 * `--experts composition|all` adds the composition experts (structure tasks: both kinds in one mixture); tasks
 * without structures always run on composition experts alone. Composition experts that hold the task's own
 * property are never offered (leakage rule, src/ml/composition/leakage.ts); the CGCNN pool is the paper's 18.
 *
 *   node --import tsx bench/paper.ts -- --task <key[,key…]|headline|structure|composition|all> --seeds 0-4 [--k K]
 *        [--epochs N] [--patience N] [--json] [--experts cgcnn|composition|all]
 *        [--mode mixture|pairwise|scratch] [--expert KEY] [--batch-norm batch|running] [--frozen-bn target|source]
 *        [--ties seeded|index] [--no-dedupe] [--loss mse|l1] [--warmup EPOCHS] [--gate-init equal|probe] [--finetune-layers N]
 *        [--comp-finetune-layers N] [--backend auto|wasm|cpu|tensorflow] [--no-write]
 *
 * Every finished run is appended to bench/results/paper.json; docs/benchmarks.md (between its
 * `paper:begin`/`paper:end` markers) is regenerated from all stored runs: table, gate heatmap, commands.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from '../src/paths.js';
import { initBackend, type BackendName } from '../src/ml/backend.js';
import { loadCompositionExperts } from '../src/ml/composition/experts.js';
import { compositionExpertWeights, scratchCompositionExpert } from '../src/ml/composition/kind.js';
import { allowedExperts } from '../src/ml/composition/leakage.js';
import type { MaterialInput } from '../src/ml/expert-kind.js';
import { cgcnnExpertWeights, loadShippedExperts } from '../src/ml/experts.js';
import { finetuneLayersOf, mixtureGate, type MixtureConfig, type MixtureMode } from '../src/ml/mixture.js';
import { readSplit, readTaskRows, taskIndex, taskInputs, type TaskMeta } from '../src/ml/tasks.js';
import { trainMixture } from '../src/ml/train.js';

const RESULTS = join(ROOT, 'bench', 'results', 'paper.json');
const DOC = join(ROOT, 'docs', 'benchmarks.md');

interface RunRecord {
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

interface Args {
  task: string;
  seeds: number[];
  k?: number;
  epochs?: number;
  json: boolean;
  mode: MixtureMode;
  expert?: string;
  batchNorm?: 'batch' | 'running';
  tieBreak?: 'seeded' | 'index';
  frozenBn?: 'source' | 'target';
  experts: 'cgcnn' | 'composition' | 'all';
  loss?: 'mse' | 'l1';
  warmup?: number;
  gateInit?: 'equal' | 'probe';
  patience?: number;
  finetuneLayers?: number;
  compFinetuneLayers?: number;
  dedupe: boolean;
  backend: BackendName;
  write: boolean;
}

function parseSeeds(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad --seeds "${s}" (e.g. 0-4 or 0,2)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { task: 'headline', seeds: [0], json: false, mode: 'mixture', experts: 'cgcnn', dedupe: true, backend: 'auto', write: true };
  const rest = argv.filter((x) => x !== '--');
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const val = () => {
      const v = rest[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--task': a.task = val(); break;
      case '--seeds': a.seeds = parseSeeds(val()); break;
      case '--k': a.k = Number(val()); break;
      case '--epochs': a.epochs = Number(val()); break;
      case '--json': a.json = true; break;
      case '--mode': a.mode = val() as MixtureMode; break;
      case '--expert': a.expert = val(); break;
      case '--batch-norm': a.batchNorm = val() as 'batch' | 'running'; break;
      case '--ties': a.tieBreak = val() as 'seeded' | 'index'; break;
      case '--frozen-bn': a.frozenBn = val() as 'source' | 'target'; break;
      case '--no-dedupe': a.dedupe = false; break;
      case '--experts': a.experts = val() as Args['experts']; break;
      case '--loss': a.loss = val() as 'mse' | 'l1'; break;
      case '--warmup': a.warmup = Number(val()); break;
      case '--gate-init': a.gateInit = val() as 'equal' | 'probe'; break;
      case '--patience': a.patience = Number(val()); break;
      case '--finetune-layers': a.finetuneLayers = Number(val()); break;
      case '--comp-finetune-layers': a.compFinetuneLayers = Number(val()); break;
      case '--backend': a.backend = val() as BackendName; break;
      case '--no-write': a.write = false; break;
      default: throw new Error(`unknown argument ${flag}`);
    }
  }
  if (!['cgcnn', 'composition', 'all'].includes(a.experts)) throw new Error(`--experts must be cgcnn, composition or all`);
  return a;
}

const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
/** Population std (numpy's default), as the paper's script reports it. */
const std = (v: number[]) => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));
const fmt = (x: number | null | undefined, d = 4) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x.toPrecision(d)).toString());

/**
 * A run's protocol as the tokens that name it; tokens added after the first reproduction runs appear only when they
 * differ from the paper, so older records keep their protocol.
 */
function protocolOf(c: MixtureConfig, kinds: readonly string[]): string {
  const parts = [c.mode, c.mode === 'mixture' ? `k=${c.k}` : c.experts[0], `epochs=${c.epochs}`, `bn=${c.batchNorm}`, `frozen-bn=${c.frozenBatchNorm}`];
  if (c.mode === 'mixture') parts.push(`ties=${c.gateTieBreak}`);
  if (c.dedupeTolerance === null) parts.push('no-dedupe');
  if (kinds.join('+') !== 'cgcnn') parts.push(`experts=${kinds.join('+')}`);
  if (kinds.includes('cgcnn') && c.finetuneLayers !== 1) parts.push(`cgcnn-ft=${c.finetuneLayers}`);
  if (kinds.includes('composition')) parts.push(`comp-ft=${finetuneLayersOf(c, 'composition')}`);
  if (c.patience !== 500) parts.push(`patience=${c.patience}`);
  if (c.loss !== 'mse') parts.push(`loss=${c.loss}`);
  if (c.gateWarmup > 0) parts.push(`warmup=${c.gateWarmup}`);
  if (c.gateInit !== 'equal') parts.push(`gate-init=${c.gateInit}`);
  return parts.join(' ');
}

function loadRecords(): RunRecord[] {
  return existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as RunRecord[]) : [];
}

function saveRecord(r: RunRecord): void {
  const all = loadRecords().filter((x) => !(x.task === r.task && x.seed === r.seed && x.protocol === r.protocol));
  all.push(r);
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify(all, null, 1) + '\n');
}

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
      const paper = t.moe18_mae === null ? '–' : `${fmt(t.moe18_mae)}${t.moe18_mae_std ? ` ± ${fmt(t.moe18_mae_std, 2)}` : ''}`;
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

function writeDoc(records: RunRecord[], index: TaskMeta[], expertKeys: string[]): void {
  const section = renderSection(records, index, expertKeys);
  const begin = '<!-- paper:begin -->';
  const end = '<!-- paper:end -->';
  let doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : `# Benchmarks\n\n## Paper reproduction\n\n${begin}\n${end}\n`;
  if (!doc.includes(begin) || !doc.includes(end)) doc += `\n## Paper reproduction\n\n${begin}\n${end}\n`;
  doc = doc.slice(0, doc.indexOf(begin) + begin.length) + '\n' + section + '\n' + doc.slice(doc.indexOf(end));
  mkdirSync(dirname(DOC), { recursive: true });
  writeFileSync(DOC, doc);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (s: string) => (args.json ? process.stderr.write(s + '\n') : process.stdout.write(s + '\n'));
  const info = await initBackend(args.backend);
  log(`backend: ${info.name} (${info.detail})`);
  const index = taskIndex();
  const selected =
    args.task === 'all' ? index
    : args.task === 'headline' ? index.filter((t) => t.headline)
    : args.task === 'structure' ? index.filter((t) => t.has_structures)
    : args.task === 'composition' ? index.filter((t) => !t.has_structures)
    : index.filter((t) => args.task.split(',').includes(t.key));
  if (selected.length === 0) throw new Error(`no task "${args.task}" (keys: ${index.map((t) => t.key).join(', ')})`);
  const cgcnn = (await loadShippedExperts()).map(cgcnnExpertWeights);
  const composition = (await loadCompositionExperts()).map((b) => compositionExpertWeights(b));
  const expertKeys = [...cgcnn, ...composition].map((e) => e.key);
  const command = `npm run bench:paper -- ${process.argv.slice(2).filter((x) => x !== '--').join(' ')}`;
  const summary: Record<string, { seeds: number[]; testMae: number[]; mean: number; std: number; paperMoE: number | null; seconds: number }> = {};

  for (const meta of selected) {
    if (!meta.available) {
      log(`${meta.key}: skipped — no data file (${meta.note ?? 'not available'})`);
      continue;
    }
    // Tasks without structures can only be read by composition experts.
    const kinds = !meta.has_structures ? ['composition'] : args.experts === 'all' ? ['cgcnn', 'composition'] : [args.experts];
    const pool = [...(kinds.includes('cgcnn') ? cgcnn : []), ...(kinds.includes('composition') ? allowedExperts(meta.key, composition) : [])];
    const tTask = performance.now();
    const rows = readTaskRows(meta.key);
    const inputs: MaterialInput[] = meta.has_structures && kinds.includes('cgcnn') ? taskInputs(rows) : rows.map((r) => ({ formula: r.formula }));
    const targets = rows.map((r) => r.target);
    const graphSeconds = (performance.now() - tTask) / 1000;
    log(`${meta.key}: ${rows.length} rows, inputs in ${graphSeconds.toFixed(1)} s, ${pool.length} experts (${kinds.join(' + ')})`);
    const maes: number[] = [];
    for (const seed of args.seeds) {
      const split = readSplit(meta.key, seed);
      const tRun = performance.now();
      const scratchComposition = args.mode === 'scratch' && !kinds.includes('cgcnn');
      const partial: Partial<MixtureConfig> = {
        mode: args.mode,
        seed,
        ...(args.k !== undefined ? { k: args.k } : {}),
        ...(args.epochs !== undefined ? { epochs: args.epochs } : {}),
        ...(args.patience !== undefined ? { patience: args.patience } : {}),
        ...(args.batchNorm ? { batchNorm: args.batchNorm } : {}),
        ...(args.tieBreak ? { gateTieBreak: args.tieBreak } : {}),
        ...(args.frozenBn ? { frozenBatchNorm: args.frozenBn } : {}),
        ...(args.loss ? { loss: args.loss } : {}),
        ...(args.warmup !== undefined ? { gateWarmup: args.warmup } : {}),
        ...(args.gateInit ? { gateInit: args.gateInit } : {}),
        ...(args.finetuneLayers !== undefined ? { finetuneLayers: args.finetuneLayers } : {}),
        ...(args.compFinetuneLayers !== undefined ? { finetuneLayersByKind: { composition: args.compFinetuneLayers } } : {}),
        ...(args.dedupe ? {} : { dedupeTolerance: null }),
        ...(args.mode === 'pairwise' ? { experts: [args.expert ?? pool[0].key] } : {}),
        ...(scratchComposition ? { experts: ['composition_scratch'] } : {}),
        ...(args.mode === 'mixture' ? { experts: pool.map((e) => e.key) } : {}),
      };
      const experts = scratchComposition ? [scratchCompositionExpert('composition_scratch', seed)] : pool;
      const r = await trainMixture({ inputs, targets, split }, partial, {
        experts,
        onEpoch: (p) => {
          if ((p.epoch + 1) % 100 === 0) {
            log(`  seed ${seed} epoch ${p.epoch + 1}: train ${p.trainLoss.toFixed(4)} val MAE ${p.valMae.toPrecision(4)} (best ${p.bestValMae.toPrecision(4)} @${p.bestEpoch}) ${p.gate.map((g) => `${g.key} ${g.weight.toFixed(2)}`).join(', ')} — ${p.seconds.toFixed(0)} s`);
          }
        },
      });
      const seconds = (performance.now() - tRun) / 1000 + graphSeconds / args.seeds.length;
      const gate = Object.fromEntries(mixtureGate(r.model).filter((g) => g.weight > 0).map((g) => [g.key, g.weight]));
      log(
        `  seed ${seed}: test MAE ${r.testMae?.toPrecision(4)} (val ${r.valMae.toPrecision(4)}, best epoch ${r.bestEpoch}, ${r.epochsRun} epochs${r.stoppedEarly ? ', early stop' : ''}) ` +
          `gate ${Object.entries(gate).map(([k, w]) => `${k} ${w.toFixed(2)}`).join(', ')} — prepare ${r.prepareSeconds.toFixed(1)} s, ${r.secondsPerEpoch.toFixed(3)} s/epoch, ${seconds.toFixed(0)} s`,
      );
      maes.push(r.testMae ?? Number.NaN);
      if (args.write) {
        saveRecord({
          task: meta.key,
          seed,
          protocol: protocolOf(r.model.config, kinds),
          mode: r.model.config.mode,
          k: r.model.config.k,
          epochs: r.model.config.epochs,
          batchNorm: r.model.config.batchNorm,
          dedupe: r.model.config.dedupeTolerance,
          testMae: r.testMae ?? Number.NaN,
          valMae: r.valMae,
          bestEpoch: r.bestEpoch,
          epochsRun: r.epochsRun,
          seconds,
          prepareSeconds: r.prepareSeconds,
          secondsPerEpoch: r.secondsPerEpoch,
          gate,
          backend: info.name,
          date: new Date().toISOString(),
          command,
        });
        writeDoc(loadRecords(), index, expertKeys);
      }
    }
    const seconds = (performance.now() - tTask) / 1000;
    summary[meta.key] = { seeds: args.seeds, testMae: maes, mean: mean(maes), std: std(maes), paperMoE: meta.moe18_mae, seconds };
    log(
      `${meta.key}: test MAE ${fmt(mean(maes))} ± ${fmt(std(maes), 2)} ${meta.unit} over seeds ${args.seeds.join(',')} | paper MoE-(18) ${fmt(meta.moe18_mae)} | CGCNN scratch ${fmt(meta.cgcnn_scratch_mae)} | best known ${fmt(meta.best_known_mae)} | ${seconds.toFixed(0)} s`,
    );
  }
  if (args.json) process.stdout.write(JSON.stringify(summary) + '\n');
}

await main();
