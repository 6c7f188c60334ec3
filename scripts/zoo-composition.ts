/**
 * Pre-trains the composition-expert zoo: one expert per source set in ../shared/data/sources, written to
 * experts/composition/<key>.safetensors with its card in experts/composition/experts.json.
 *
 *   node --import tsx scripts/zoo-composition.ts [--only mp_gap,jarvis3d_eps] [--out DIR] [--epochs N] [--backend wasm|cpu|auto]
 *
 * Deterministic: the same sources and options on the same backend give byte-identical .safetensors files.
 * With --only, the other experts' cards in an existing experts.json are kept.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, type BackendName } from '../src/ml/backend.js';
import type { CompositionExpertCard } from '../src/ml/composition/card.js';
import { EXPERTS_DIR } from '../src/paths.js';
import { loadSourceSet, sourceIndex } from './lib/sources.js';
import { trainZooExpert, ZOO_RECIPE } from './lib/composition-zoo.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    out: { type: 'string', default: join(EXPERTS_DIR, 'composition') },
    epochs: { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    quiet: { type: 'boolean', default: false },
  },
});

async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await writeFile(`${path}.tmp`, data);
  await rename(`${path}.tmp`, path);
}

async function main(): Promise<void> {
  const outDir = resolve(values.out!);
  const backend = await initBackend(values.backend as BackendName);
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}`;
  const all = sourceIndex().map((m) => m.name);
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : all;
  for (const n of only) if (!all.includes(n)) throw new Error(`unknown source set "${n}" (known: ${all.join(', ')})`);
  const recipe = values.epochs ? { epochs: Number(values.epochs) } : {};
  if (recipe.epochs !== undefined && !(Number.isInteger(recipe.epochs) && recipe.epochs > 0)) throw new Error('--epochs must be a positive integer');

  await mkdir(outDir, { recursive: true });
  const cardsPath = join(outDir, 'experts.json');
  const previous: CompositionExpertCard[] = existsSync(cardsPath) ? (JSON.parse(await readFile(cardsPath, 'utf8')) as CompositionExpertCard[]) : [];
  const cards = new Map(previous.map((c) => [c.source.name, c]));

  console.log(`composition zoo: ${only.length} set(s), backend ${backend.name} (${backend.detail}), ${machine}`);
  console.log(`recipe: ${JSON.stringify({ ...ZOO_RECIPE, ...recipe })}`);
  const t0 = performance.now();
  for (const name of all.filter((n) => only.includes(n))) {
    const tLoad = performance.now();
    const set = loadSourceSet(name);
    const loadSeconds = (performance.now() - tLoad) / 1000;
    const z = trainZooExpert(set, {
      recipe,
      backend: backend.name,
      machine,
      onEpoch: values.quiet ? undefined : (e) => {
        if (e.epoch % 10 === 0) console.log(`  ${name} epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)}, val MAE ${e.valMae.toPrecision(4)} (${e.seconds.toFixed(0)} s)`);
      },
    });
    await writeAtomic(join(outDir, z.card.file), z.bytes);
    cards.set(name, { ...z.card, sha256: z.baseSha256 });
    // Written after every expert, so an interrupted run keeps what it finished.
    await writeAtomic(cardsPath, `${JSON.stringify(all.filter((n) => cards.has(n)).map((n) => cards.get(n)!), null, 1)}\n`);
    const c = z.card;
    console.log(
      `${c.key}: ${c.rows.train}/${c.rows.val} formulas, val MAE ${c.val_mae.toPrecision(4)} ${c.unit} (mean-predictor ${c.baseline_val_mae.toPrecision(4)}), ` +
        `best epoch ${c.training.best_epoch}/${c.training.epochs_run}, load ${loadSeconds.toFixed(1)} s + features ${z.featurizeSeconds.toFixed(1)} s + training ${c.training.seconds} s, sha256 ${z.baseSha256.slice(0, 16)}`,
    );
  }
  console.log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s -> ${outDir}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
