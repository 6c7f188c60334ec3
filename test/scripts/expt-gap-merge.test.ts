/** The merge rules of scripts/lib/expt-gap-merge.ts on small synthetic inputs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFormula } from '../../src/chem/formula.js';
import { compositionKey, median, mergeGapRows, resolveGap, type GapRowIn } from '../../scripts/lib/expt-gap-merge.js';

type Src = 'zhuo' | 'copy';
let row = 0;
const r = (source: Src, formula: string, gap: number): GapRowIn<Src> => ({ source, row: row++, formula, gap });

const rows: GapRowIn<Src>[] = [
  r('zhuo', 'GaAs', 1.42), r('zhuo', 'GaAs', 1.52), r('zhuo', 'GaAs', 1.43),
  r('zhuo', 'NaCl', 8.5),
  r('zhuo', 'Te0.5Se0.5', 1.0), r('zhuo', 'TeSe', 1.6),
  r('zhuo', 'GaAs0.1P0.9G1128', 1.2),
  r('zhuo', 'Cu9S5', 0), r('zhuo', 'Cu1.8S', 2.3),
  r('zhuo', 'CoO', 0), r('zhuo', 'CoO', 0), r('zhuo', 'CoO', 2.0),
  r('zhuo', 'ZnO', 0), r('zhuo', 'ZnO', 3.3), r('zhuo', 'ZnO', 3.4),
  r('zhuo', 'MgO', 7.8), r('zhuo', 'MgO', 7.8),
  // A second file that copies the first: the same value of the same composition is the same report again ...
  r('copy', 'GaAs', 1.52),
  // ... but only once per report: a second equal row of this file is a report of its own.
  r('copy', 'GaAs', 1.52),
  r('copy', 'NaCl', 8.6),
  r('copy', 'Se1Te1', 1.0),
  r('copy', 'Xx2O', 1),
];
const merged = mergeGapRows(rows);
const byKey = (k: string) => merged.records.find((x) => x.key === k);

test('repeated measurements of one composition become their median, with provenance', () => {
  const gaas = byKey('GaAs')!;
  assert.deepEqual(gaas.values, [1.42, 1.43, 1.52, 1.52]);
  assert.equal(gaas.gap, median([1.42, 1.43, 1.52, 1.52]));
  assert.equal(gaas.resolution, 'median');
  assert.deepEqual(gaas.sources, { zhuo: 3, copy: 2 });
  assert.ok(Math.abs(gaas.spread - 0.1) < 1e-12);
  // The copied report lists both file rows.
  assert.deepEqual(gaas.measurements.find((m) => m.rows.length === 2)!.rows.map((x) => x.source), ['zhuo', 'copy']);
  assert.equal(merged.copies.copy, 2);
  const nacl = byKey('NaCl')!;
  assert.deepEqual(nacl.values, [8.5, 8.6]);
  assert.equal(nacl.gap, 8.55);
  const mgo = byKey('MgO')!;
  assert.deepEqual([mgo.gap, mgo.resolution, mgo.values.length], [7.8, 'agree', 2], 'equal rows of one file stay two reports');
});

test('fractional and integer formulas of one composition merge under one key', () => {
  assert.equal(compositionKey(parseFormula('Te0.5Se0.5').amounts), compositionKey(parseFormula('SeTe').amounts));
  assert.equal(compositionKey(parseFormula('Cu1.8S1').amounts), 'Cu9S5');
  assert.equal(compositionKey(parseFormula('Fe4O6').amounts), 'Fe2O3');
  const tese = byKey(compositionKey(parseFormula('TeSe').amounts))!;
  assert.deepEqual(tese.values, [1.0, 1.6]);
  assert.equal(tese.gap, 1.3);
  assert.equal(tese.measurements.find((m) => m.gap === 1.0)!.rows.length, 2, 'Se1Te1 = 1.0 repeats Te0.5Se0.5 = 1.0');
  assert.deepEqual(new Set(tese.writtenAs), new Set(['Te0.5Se0.5', 'TeSe', 'Se1Te1']));
});

test('metal vs gap: the majority decides, a tie is dropped and counted', () => {
  assert.deepEqual([byKey('CoO')!.gap, byKey('CoO')!.resolution], [0, 'metal-majority']);
  assert.deepEqual([byKey('ZnO')!.gap, byKey('ZnO')!.resolution], [(3.3 + 3.4) / 2, 'gap-majority']);
  assert.equal(byKey('Cu9S5'), undefined);
  assert.deepEqual(merged.dropped.map((d) => [d.key, d.values]), [['Cu9S5', [0, 2.3]]]);
  assert.deepEqual(resolveGap([0, 0]), { gap: 0, resolution: 'agree' });
  assert.deepEqual(resolveGap([2]), { gap: 2, resolution: 'single' });
  assert.deepEqual(resolveGap([0, 1, 2, 3]), { gap: 2, resolution: 'gap-majority' });
  assert.ok('dropped' in resolveGap([0, 0, 1, 2]));
});

test('unparseable formulas are recorded with their file row and counted, not merged', () => {
  assert.deepEqual(merged.unparseable.map((u) => [u.source, u.formula]), [['zhuo', 'GaAs0.1P0.9G1128'], ['copy', 'Xx2O']]);
  assert.equal(merged.records.length, 6);
  const rowsIn = merged.records.reduce((s, x) => s + Object.values(x.sources).reduce((a, b) => a + (b ?? 0), 0), 0);
  assert.equal(rowsIn + merged.unparseable.length + 2 /* Cu9S5 dropped */, rows.length);
});
