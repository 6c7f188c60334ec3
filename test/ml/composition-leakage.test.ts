import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPERTS_DIR } from '../../src/paths.js';
import { readTaskRows, taskIndex } from '../../scripts/lib/tasks.js';
import { readSourceRows, sourceIndex } from '../../scripts/lib/sources.js';
import {
  allowedExperts,
  CGCNN_EXPERT_QUANTITIES,
  expertQuantity,
  isLeakyExpert,
  LEAKAGE_TABLE,
  leakageReason,
  SOURCE_QUANTITIES,
  TASK_QUANTITIES,
  taskQuantity,
} from '../../src/ml/experts/leakage.js';

const tasks = taskIndex().map((t) => t.key);
const sources = sourceIndex().map((s) => s.name);
const cgcnnKeys = (JSON.parse(readFileSync(join(EXPERTS_DIR, 'cgcnn', 'experts.json'), 'utf8')) as { key: string }[]).map((c) => c.key);

/** The decision this project took, written out by hand: the only (task, source) pairs that must be excluded. */
const EXPECTED_SOURCE_EXCLUSIONS = ['mp_poisson_ratio|mp_log_gvrh', 'mp_poisson_ratio|mp_log_kvrh'];
const EXPECTED_CGCNN_EXCLUSIONS = ['mp_poisson_ratio|mp_gvrh', 'mp_poisson_ratio|mp_kvrh'];

test('every task, source set and CGCNN expert has a quantity (a new one cannot slip past the rule)', () => {
  for (const t of tasks) assert.ok(TASK_QUANTITIES[t], `task ${t}`);
  for (const s of sources) assert.ok(SOURCE_QUANTITIES[s], `source ${s}`);
  for (const k of cgcnnKeys) assert.ok(CGCNN_EXPERT_QUANTITIES[k], `CGCNN expert ${k}`);
  for (const e of LEAKAGE_TABLE) {
    assert.ok(tasks.includes(e.task), `table names unknown task ${e.task}`);
    assert.ok(e.reason.length > 20);
  }
});

test('the rule excludes exactly the decided (task, source set) pairs', () => {
  const excluded = tasks.flatMap((t) => sources.filter((s) => isLeakyExpert(s, t)).map((s) => `${t}|${s}`)).sort();
  assert.deepEqual(excluded, EXPECTED_SOURCE_EXCLUSIONS);
  // The same through expert keys and cards, as the service will pass them.
  const cards = sources.map((s) => ({ key: `comp_${s}`, kind: 'composition', quantity: SOURCE_QUANTITIES[s].id, source: { name: s } }));
  assert.deepEqual(
    allowedExperts('mp_poisson_ratio', cards).map((c) => c.source.name),
    sources.filter((s) => s !== 'mp_log_kvrh' && s !== 'mp_log_gvrh'),
  );
  assert.equal(allowedExperts('expt_bandgap', cards).length, sources.length);
});

test('the same rule applies to the CGCNN experts by key', () => {
  const excluded = tasks.flatMap((t) => cgcnnKeys.filter((k) => isLeakyExpert(k, t)).map((k) => `${t}|${k}`)).sort();
  assert.deepEqual(excluded, EXPECTED_CGCNN_EXCLUSIONS);
  assert.equal(allowedExperts('mp_poisson_ratio', cgcnnKeys.map((key) => ({ card: { key } }))).length, cgcnnKeys.length - 2);
});

test('a dataset whose property is a source quantity excludes that source, whatever alias names it', () => {
  for (const property of ['mp:band_gap_pbe', 'mp_gap', 'comp_mp_gap', 'Materials Project PBE band gap', '  MP:BAND_GAP_PBE ', 'mp_bandgap']) {
    assert.equal(taskQuantity(property), 'mp:band_gap_pbe', property);
    assert.deepEqual(sources.filter((s) => isLeakyExpert(s, property)), ['mp_gap'], property);
    assert.ok(isLeakyExpert('mp_bandgap', property), 'the CGCNN expert of the same quantity too');
    assert.match(leakageReason('comp_mp_gap', property)!, /own target property/);
  }
  // A dataset of Poisson ratios named by its quantity inherits the table's exclusions.
  assert.deepEqual(sources.filter((s) => isLeakyExpert(s, 'mp:poisson_ratio_vrh')), ['mp_log_kvrh', 'mp_log_gvrh']);
  // Free text names no quantity: nothing is excluded (an experimental "band gap" is not the PBE gap).
  assert.deepEqual(sources.filter((s) => isLeakyExpert(s, 'band gap')), []);
  assert.equal(expertQuantity({ key: 'my_own_expert' }), undefined);
  assert.equal(isLeakyExpert({ key: 'my_own_expert' }, 'mp_gap'), false);
});

/** Mean source target per formula. */
function sourceLabels(name: string): Map<string, number> {
  const acc = new Map<string, [number, number]>();
  for (const r of readSourceRows(name)) {
    const a = acc.get(r.formula) ?? [0, 0];
    a[0] += r.target;
    a[1]++;
    acc.set(r.formula, a);
  }
  return new Map([...acc].map(([f, [s, n]]) => [f, s / n]));
}

/** Share of a task's rows whose formula the source holds with the same non-zero label (1e-3 relative). */
function agreeing(rows: readonly { formula: string; target: number }[], labels: Map<string, number>): number {
  let n = 0;
  for (const r of rows) {
    const y = labels.get(r.formula);
    if (y !== undefined && r.target !== 0 && Math.abs(y - r.target) <= 1e-3 * Math.max(1, Math.abs(r.target))) n++;
  }
  return n / rows.length;
}

test('the data agree: allowed pairs share no labels, a task built from a source would', () => {
  const labels = new Map(sources.map((s) => [s, sourceLabels(s)]));
  const available = taskIndex().filter((t) => t.available);
  for (const t of available) {
    const rows = readTaskRows(t.key);
    for (const s of sources) {
      if (isLeakyExpert(s, t.key)) continue;
      const share = agreeing(rows, labels.get(s)!);
      assert.ok(share < 0.05, `${t.key} shares ${(100 * share).toFixed(1)} % of its labels with ${s}, yet ${s} is allowed`);
    }
  }
  // A synthetic task: 500 PBE gaps copied out of mp_gap. The detector sees it, and the rule excludes mp_gap for it.
  const gap = [...labels.get('mp_gap')!].filter(([, y]) => y > 0).slice(0, 500).map(([formula, target]) => ({ formula, target }));
  assert.equal(agreeing(gap, labels.get('mp_gap')!), 1);
  assert.ok(agreeing(gap, labels.get('jarvis3d_optb88vdw_gap')!) < 0.05);
  assert.deepEqual(sources.filter((s) => isLeakyExpert(s, 'mp:band_gap_pbe')), ['mp_gap']);
});

test('the Poisson-ratio exclusion holds in the data: ν(K_VRH, G_VRH) of the source labels reproduces the task', () => {
  const k = sourceLabels('mp_log_kvrh');
  const g = sourceLabels('mp_log_gvrh');
  const rows = readTaskRows('mp_poisson_ratio');
  let close = 0;
  let shared = 0;
  for (const r of rows) {
    if (!k.has(r.formula) || !g.has(r.formula)) continue;
    shared++;
    const K = 10 ** k.get(r.formula)!;
    const G = 10 ** g.get(r.formula)!;
    if (Math.abs((3 * K - 2 * G) / (2 * (3 * K + G)) - r.target) < 0.005) close++;
  }
  assert.ok(shared > 1000 && close / shared > 0.75, `${close}/${shared}`);
});
