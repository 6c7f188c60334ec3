/**
 * What answering a crystal with a blend of a shipped model's structure and composition members would give: per task
 * and published split, the blend weight w (structure share, 0-1 in steps of 0.25) is chosen on that split's
 * validation rows (MAE in the paper's units), then the split's test rows are scored once. Not what the service serves
 * (a crystal is answered by the structure members alone); an evaluation for deciding whether it should.
 *
 *   node --import tsx bench/basis-blend.ts
 */
import { join } from 'node:path';
import { ROOT } from '../src/paths.js';
import { readFileSync } from 'node:fs';
import { initBackend } from '../src/ml/backend.js';
import { loadAllShippedExperts } from '../src/ml/experts/registry.js';
import { compileModel } from '../src/ml/inference/compiled-model.js';
import { loadEnsemble } from '../src/ml/mixture/ensemble.js';
import { forwardTransform, inverseTransform, memberOutput, physicalValues, transformOfLabel } from '../src/ml/mixture/output.js';
import { readSplit, readTaskRows, taskIndex, taskInputs } from '../scripts/lib/tasks.js';
await initBackend('wasm');
const experts = await loadAllShippedExperts();
const base = (key: string, sha: string) => experts.find((e) => e.key === key && e.baseSha256 === sha)?.weights;
const W = [0, 0.25, 0.5, 0.75, 1];
let beats = 0, beatsS = 0, n = 0;
for (const t of taskIndex().filter((t) => t.available && t.has_structures && t.moe18_mae !== null)) {
  const native = transformOfLabel(t.transform);
  const rows = readTaskRows(t.key);
  const targets = rows.map((r) => inverseTransform(native, r.target));
  const inputs = taskInputs(rows);
  const all = loadEnsemble(new Uint8Array(readFileSync(join(ROOT, 'models', `${t.key}.matmoe`))), base);
  const res: { s: number; b: number; w: number }[] = [];
  for (let seed = 0; seed < 5; seed++) {
    const sp = readSplit(t.key, seed);
    const pred = (basis: string, idx: readonly number[]) => {
      const ms = all.filter((m) => memberOutput(m).basis === basis && memberOutput(m).group === seed);
      const c = compileModel(ms);
      const raw = c.predict(idx.map((i) => (basis === 'structure' ? inputs[i] : { formula: rows[i].formula })));
      c.dispose();
      const out = new Float64Array(idx.length);
      ms.forEach((m, k) => physicalValues(memberOutput(m), raw[k]).forEach((v, j) => (out[j] += v / ms.length)));
      return out;
    };
    const mae = (p: Float64Array, idx: readonly number[]) => idx.reduce((a, i, j) => a + Math.abs(forwardTransform(native, p[j]) - forwardTransform(native, targets[i])), 0) / idx.length;
    const vs = pred('structure', sp.val), vc = pred('composition', sp.val);
    const blend = (s: Float64Array, c: Float64Array, w: number) => s.map((x, j) => w * x + (1 - w) * c[j]);
    const w = W.reduce((best, w) => (mae(blend(vs, vc, w), sp.val) < mae(blend(vs, vc, best), sp.val) ? w : best), 1);
    const ts = pred('structure', sp.test), tc = pred('composition', sp.test);
    res.push({ s: mae(ts, sp.test), b: mae(blend(ts, tc, w), sp.test), w });
  }
  const m = (k: 's' | 'b') => res.reduce((a, r) => a + r[k], 0) / res.length;
  n++;
  if (m('b') < t.moe18_mae!) beats++;
  if (m('s') < t.moe18_mae!) beatsS++;
  console.log(`${t.key}: structure ${m('s').toPrecision(4)}, blend ${m('b').toPrecision(4)} (w ${res.map((r) => r.w).join(',')}), MoE-18 ${t.moe18_mae}`);
}
console.log(`beats MoE-18: structure ${beatsS}/${n}, blend ${beats}/${n}`);
