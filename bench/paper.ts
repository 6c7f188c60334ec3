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
 *        [--ties seeded|index] [--no-dedupe] [--loss mse|l1] [--warmup EPOCHS] [--gate-init equal|probe|probe-kinds] [--finetune-layers N]
 *        [--comp-finetune-layers N] [--backend auto|wasm|cpu|tensorflow] [--no-write]
 *   node --import tsx bench/paper.ts -- --render    (regenerates docs/benchmarks.md from the stored runs only)
 *
 * Every finished run is appended to bench/results/paper.json; docs/benchmarks.md (between its
 * `paper:begin`/`paper:end` and `paper-composition:begin`/`end` markers) is regenerated from all stored runs:
 * tables, gate heatmaps, commands, and the structure-alone vs structure + composition comparison.
 */
import { initBackend, type BackendName } from '../src/ml/backend.js';
import { scratchCompositionExpert } from '../src/ml/composition/kind.js';
import { allowedExperts } from '../src/ml/experts/leakage.js';
import type { ExpertInput } from '../src/ml/experts/expert-kind.js';
import { loadShippedExperts } from '../src/ml/experts/registry.js';
import { mixtureGate } from '../src/ml/mixture/model.js';
import { readSplit, readTaskRows, taskIndex, taskInputs } from '../scripts/lib/tasks.js';
import { trainMixture } from '../src/ml/mixture/trainer.js';
import { fmt, loadRecords, mean, saveRecord, std, writeDoc } from './paper-report.js';
import { type MixtureMode, type MixtureConfig, type GateInit, finetuneLayersOf } from '../src/ml/mixture/config.js';


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
  gateInit?: GateInit;
  patience?: number;
  finetuneLayers?: number;
  compFinetuneLayers?: number;
  dedupe: boolean;
  backend: BackendName;
  write: boolean;
  /** Only regenerate docs/benchmarks.md from the stored runs. */
  render: boolean;
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
  const a: Args = { task: 'headline', seeds: [0], json: false, mode: 'mixture', experts: 'cgcnn', dedupe: true, backend: 'auto', write: true, render: false };
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
      case '--gate-init': a.gateInit = val() as GateInit; break;
      case '--patience': a.patience = Number(val()); break;
      case '--finetune-layers': a.finetuneLayers = Number(val()); break;
      case '--comp-finetune-layers': a.compFinetuneLayers = Number(val()); break;
      case '--backend': a.backend = val() as BackendName; break;
      case '--no-write': a.write = false; break;
      case '--render': a.render = true; break;
      default: throw new Error(`unknown argument ${flag}`);
    }
  }
  if (!['cgcnn', 'composition', 'all'].includes(a.experts)) throw new Error(`--experts must be cgcnn, composition or all`);
  return a;
}


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
  const cgcnn = await loadShippedExperts('cgcnn');
  const composition = await loadShippedExperts('composition');
  const expertKeys = [...cgcnn, ...composition].map((e) => e.key);
  if (args.render) {
    writeDoc(loadRecords(), index, expertKeys);
    return;
  }
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
    const inputs: ExpertInput[] = meta.has_structures && kinds.includes('cgcnn') ? taskInputs(rows) : rows.map((r) => ({ formula: r.formula }));
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
