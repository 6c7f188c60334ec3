/**
 * bench:experts — crystals/s of all 18 CGCNN expert embeddings over the tasks' structures (wasm), optionally beside
 * PyTorch CPU on the same graphs (bench/torch_experts.py, Debian's python3-torch; not needed by the product), plus the
 * wall time of the full paper protocol per task from bench/results/paper.json (written by bench:paper).
 *
 *   npm run bench:experts -- [--limit 2000] [--torch] [--threads 2]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parsePymatgenStructure } from '../src/chem/structure/index.js';
import { initBackend } from '../src/ml/backend.js';
import { crystalGraph, type CrystalGraph } from '../src/ml/cgcnn/batching.js';
import { expertEmbeddings } from '../src/ml/cgcnn/expert.js';
import { loadShippedExperts } from '../src/ml/experts/registry.js';
import { ROOT } from '../src/paths.js';
import { readTaskRows, taskIndex } from '../scripts/lib/tasks.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { limit: { type: 'string', default: '2000' }, torch: { type: 'boolean', default: false }, threads: { type: 'string', default: '2' } },
});
const limit = Number(values.limit);

const backend = await initBackend('wasm');
const structures = taskIndex().filter((t) => t.available && t.has_structures).flatMap((t) => readTaskRows(t.key).map((r) => r.structure));
const step = Math.max(1, Math.floor(structures.length / limit));
const picked = structures.filter((_, i) => i % step === 0).slice(0, limit);
let t = performance.now();
const graphs: CrystalGraph[] = picked.map((s) => crystalGraph(parsePymatgenStructure(s)));
const graphSeconds = (performance.now() - t) / 1000;
const atoms = graphs.reduce((a, g) => a + g.atomicNumbers.length, 0);
const experts = await loadShippedExperts('cgcnn');
expertEmbeddings(experts[0], graphs.slice(0, 50)); // warm-up
t = performance.now();
let first: Float32Array | undefined;
for (const e of experts) {
  const emb = expertEmbeddings(e, graphs);
  first ??= emb;
}
const seconds = (performance.now() - t) / 1000;
const rate = graphs.length / seconds;
process.stdout.write(`${graphs.length} crystals (${(atoms / graphs.length).toFixed(1)} sites on average) from the tasks; backend ${backend.name}\n`);
process.stdout.write(`graphs: ${(graphs.length / graphSeconds).toFixed(0)} crystals/s\n`);
process.stdout.write(`all 18 expert embeddings: ${seconds.toFixed(2)} s = ${rate.toFixed(0)} crystals/s (${(rate * 18).toFixed(0)} crystal-expert embeddings/s)\n`);

if (values.torch) {
  const file = join(tmpdir(), 'matmoe-bench-graphs.json');
  writeFileSync(file, JSON.stringify({
    experts: experts.map((e) => e.path),
    graphs: graphs.map((g) => ({ z: Array.from(g.atomicNumbers), idx: Array.from(g.nbrIdx), dist: Array.from(g.nbrDist) })),
    reference: Array.from(first!.subarray(0, 64 * Math.min(graphs.length, 200))),
  }));
  const py = spawnSync('/usr/bin/python3', [join(ROOT, 'bench', 'torch_experts.py'), file, values.threads!], { encoding: 'utf8' });
  if (py.status !== 0) {
    process.stdout.write(`PyTorch side-by-side failed (apt-get install python3-torch?): ${py.stderr.slice(-500)}\n`);
  } else {
    const r = JSON.parse(py.stdout.trim().split('\n').at(-1)!) as { seconds: number; maxAbsDiff: number; threads: number; version: string };
    const torchRate = graphs.length / r.seconds;
    process.stdout.write(`PyTorch ${r.version} CPU (${r.threads} threads): ${r.seconds.toFixed(2)} s = ${torchRate.toFixed(0)} crystals/s; MatMoE/PyTorch speed ratio ${(rate / torchRate).toFixed(2)}; max |Δembedding| ${r.maxAbsDiff.toExponential(1)}\n`);
  }
}

const results = join(ROOT, 'bench', 'results', 'paper.json');
if (existsSync(results)) {
  const runs = JSON.parse(readFileSync(results, 'utf8')) as { task: string; seed: number; seconds: number; epochsRun: number; secondsPerEpoch: number; protocol: string }[];
  process.stdout.write('\nfull paper protocol, wall time per task and seed (bench/results/paper.json):\n');
  const rows = new Map<string, string>();
  for (const r of runs) rows.set(`${r.task} seed ${r.seed}`, `${r.task} seed ${r.seed}: ${r.seconds.toFixed(0)} s (${r.epochsRun} epochs, ${r.secondsPerEpoch.toFixed(3)} s/epoch) — ${r.protocol}`);
  for (const line of rows.values()) process.stdout.write(`  ${line}\n`);
}
