import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import { compositionFeatureMatrix, featurizerSpec } from '../../src/chem/descriptors.js';
import { parseFormula } from '../../src/chem/formula.js';
import { compositionEmbeddings, predictCompositionExpert, predictFromFeatures } from '../../src/ml/composition/expert.js';
import { loadShippedExperts } from '../../src/ml/experts/registry.js';
import { allowedExperts } from '../../src/ml/experts/leakage.js';
import { loadSourceSet, sourceIndex } from '../../scripts/lib/sources.js';
import { stableCard } from '../../scripts/lib/composition-zoo.js';
import { parseSafetensors } from '../../src/ml/safetensors.js';

await initBackend((process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm');
const experts = await loadShippedExperts('composition');
const sources = sourceIndex().map((s) => s.name);

test('one shipped expert per source set, in source order, with complete cards', () => {
  assert.deepEqual(
    experts.map((e) => e.card.key),
    sources.map((s) => `comp_${s}`),
  );
  for (const e of experts) {
    assert.equal(e.card.kind, 'composition');
    assert.equal(e.card.sha256, e.baseSha256, `${e.card.key}: experts.json records the file's sha256`);
    assert.deepEqual(e.card.featurizer, featurizerSpec());
    assert.ok(statSync(e.path).size < 1_000_000, `${e.card.key} is small`);
    assert.ok(e.card.val_mae > 0 && e.card.val_mae < e.card.baseline_val_mae, `${e.card.key} beats the mean predictor`);
    assert.ok(typeof e.card.training.seconds === 'number' && e.card.training.seconds > 0);
    // The file describes itself: its metadata is the card minus run timings.
    const meta = parseSafetensors(new Uint8Array(readFileSync(e.path))).metadata;
    assert.deepEqual(JSON.parse(meta.card), JSON.parse(JSON.stringify(stableCard(withoutSha(e.card)))));
  }
});

function withoutSha<T extends { sha256?: string }>(c: T): T {
  const { sha256: _s, ...rest } = c;
  return rest as T;
}

test('every shipped expert reproduces its card\'s validation MAE on its own held-out formulas', () => {
  for (const e of experts) {
    const set = loadSourceSet(e.card.source.name);
    assert.equal(set.val.length, e.card.rows.val, `${e.card.key}: same split as at training`);
    assert.equal(set.train.length, e.card.rows.train);
    const comps = Array.from(set.val, (i) => set.compositions[i]);
    const pred = predictFromFeatures(e, compositionFeatureMatrix(comps));
    let mae = 0;
    set.val.forEach((i, k) => {
      mae += Math.abs(pred[k] - set.targets[i]);
    });
    mae /= set.val.length;
    assert.ok(Math.abs(mae - e.card.val_mae) <= 1e-4 * e.card.val_mae + 1e-6, `${e.card.key}: recomputed ${mae}, card ${e.card.val_mae}`);
  }
});

test('formula-only requests: predictions in the card unit and 64-d embeddings', () => {
  const byKey = new Map(experts.map((e) => [e.card.key, e]));
  const comps = ['NaCl', 'Si', 'Fe2O3', 'Al2O3'].map((f) => parseFormula(f).amounts);
  const gap = predictCompositionExpert(byKey.get('comp_mp_gap')!, comps);
  // PBE gaps: rock salt and sapphire are wide-gap insulators, Si is a semiconductor well below them.
  assert.ok(gap[0] > 3 && gap[3] > 4, `NaCl ${gap[0]}, Al2O3 ${gap[3]}`);
  assert.ok(gap[1] < 2, `Si ${gap[1]}`);
  const eform = predictCompositionExpert(byKey.get('comp_mp_e_form')!, comps);
  assert.ok(eform[3] < -3 && eform[3] > -4.5, `Al2O3 formation energy ${eform[3]} eV/atom (MP: about −3.4)`);
  const emb = compositionEmbeddings(byKey.get('comp_jarvis3d_eps')!, comps);
  assert.equal(emb.length, 4 * 64);
  assert.ok(emb.every((v) => v >= 0));
});

test('the shipped zoo under the leakage rule: Poisson ratio loses the two MP moduli experts, nothing else', () => {
  assert.deepEqual(
    experts.filter((e) => !allowedExperts('mp_poisson_ratio', experts).includes(e)).map((e) => e.card.key),
    ['comp_mp_log_kvrh', 'comp_mp_log_gvrh'],
  );
  assert.equal(allowedExperts('expt_bandgap', experts).length, experts.length);
  assert.deepEqual(allowedExperts('mp:band_gap_pbe', experts).map((e) => e.card.key).includes('comp_mp_gap'), false);
});
