import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { atomicFractions } from '../../src/chem/composition.js';
import { paulingElectronegativity } from '../../src/chem/electronegativity.js';
import { ELEMENT_SYMBOLS } from '../../src/chem/elements.js';
import { MAX_FORMULA_LENGTH, parseFormula, reducedFormula } from '../../src/chem/formula.js';
import { pythonFloatRepr, pythonSort } from '../../src/chem/reduced-formula.js';
import { ParseError, type Composition } from '../../src/chem/types.js';

const DATA = new URL('../data/chem/', import.meta.url);

function assertAmounts(actual: Composition, expected: Composition, what: string): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${what}: elements`);
  for (const [el, amt] of Object.entries(expected)) {
    assert.ok(Math.abs(actual[el] - amt) <= 1e-9 * Math.max(1, Math.abs(amt)), `${what}: ${el} is ${actual[el]}, expected ${amt}`);
  }
}

function parseError(fn: () => unknown): ParseError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ParseError, `expected a ParseError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ParseError, but parsing succeeded');
}

describe('parseFormula: valid formulas', () => {
  // expected reduced formulas are pymatgen 2022.11.7's (for adducts and brackets: of the summed / rewritten formula)
  const cases: [string, Composition, string][] = [
    ['Fe2O3', { Fe: 2, O: 3 }, 'Fe2O3'],
    ['Ca3(PO4)2', { Ca: 3, P: 2, O: 8 }, 'Ca3(PO4)2'],
    ['[Co(NH3)6]Cl3', { Co: 1, N: 6, H: 18, Cl: 3 }, 'CoH18(N2Cl)3'],
    ['K4[Fe(CN)6]', { K: 4, Fe: 1, C: 6, N: 6 }, 'K4Fe(CN)6'],
    ['((CH3)3Si)2O', { C: 6, H: 18, Si: 2, O: 1 }, 'Si2H18C6O'],
    ['Ca(OH)2', { Ca: 1, O: 2, H: 2 }, 'Ca(HO)2'],
    ['CuSO4·5H2O', { Cu: 1, S: 1, O: 9, H: 10 }, 'CuH10SO9'],
    ['CuSO4•5H2O', { Cu: 1, S: 1, O: 9, H: 10 }, 'CuH10SO9'],
    ['CuSO4*5H2O', { Cu: 1, S: 1, O: 9, H: 10 }, 'CuH10SO9'],
    ['CaSO4·0.5H2O', { Ca: 1, S: 1, O: 4.5, H: 1 }, 'Ca1H1S1O4.5'],
    ['AlCl3·6H2O·2NH3', { Al: 1, Cl: 3, H: 18, O: 6, N: 2 }, 'AlH18N2(ClO2)3'],
    ['MgSO4 · 7 H2O', { Mg: 1, S: 1, O: 11, H: 14 }, 'MgH14SO11'],
    ['Li0.5CoO2', { Li: 0.5, Co: 1, O: 2 }, 'Li0.5Co1O2'],
    ['Fe0.95O', { Fe: 0.95, O: 1 }, 'Fe0.95O1'],
    ['Ba(Fe0.5Nb0.5)O3', { Ba: 1, Fe: 0.5, Nb: 0.5, O: 3 }, 'Ba1Nb0.5Fe0.5O3'],
    [' Fe2 O3 ', { Fe: 2, O: 3 }, 'Fe2O3'],
    ['Fe 2 O 3', { Fe: 2, O: 3 }, 'Fe2O3'],
    ['O6Fe4', { O: 6, Fe: 4 }, 'Fe2O3'],
    ['Y3N@C80', { Y: 3, N: 1, C: 80 }, 'Y3C80N'],
    ['Ni.5O', { Ni: 0.5, O: 1 }, 'Ni0.5O1'],
    ['LiO', { Li: 1, O: 1 }, 'Li2O2'],
    ['O', { O: 1 }, 'O2'],
    ['Mg(PtO2)3', { Mg: 1, Pt: 3, O: 6 }, 'Mg(PtO2)3'],
    ['2H2O', { H: 4, O: 2 }, 'H2O'],
  ];
  for (const [input, amounts, reduced] of cases) {
    it(`${JSON.stringify(input)} → ${reduced}`, () => {
      const p = parseFormula(input);
      assertAmounts(p.amounts, amounts, input);
      const n = Object.values(amounts).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(p.nAtoms - n) < 1e-12);
      for (const [el, amt] of Object.entries(amounts)) assert.ok(Math.abs(p.fractions[el] - amt / n) < 1e-12);
      assert.equal(p.reducedFormula, reduced);
    });
  }

  it('keeps the order of first appearance (pymatgen insertion order)', () => {
    assert.deepEqual(Object.keys(parseFormula('O3(FeO)2Fe').amounts), ['O', 'Fe']);
    assert.deepEqual(Object.keys(parseFormula('[Co(NH3)6]Cl3').amounts), ['Co', 'N', 'H', 'Cl']);
  });
});

describe('parseFormula: errors carry a code and the offending position', () => {
  const cases: [string, string, number][] = [
    ['', 'formula_empty', 0],
    ['   ', 'formula_empty', 0],
    ['Xx2O3', 'formula_unknown_element', 0],
    ['FeXx', 'formula_unknown_element', 2],
    ['Fe2Oq3', 'formula_unknown_element', 3],
    ['D2O', 'formula_unknown_element', 0],
    ['Ca3(PO4', 'formula_unbalanced', 3],
    ['Ca3(PO4 2', 'formula_syntax', 8],
    ['Ca3PO4)2', 'formula_unbalanced', 6],
    ['[Co(NH3)6)Cl3', 'formula_unbalanced', 9],
    ['((Fe)', 'formula_unbalanced', 0],
    ['Fe0O', 'formula_bad_amount', 2],
    ['Fe2(O)0', 'formula_bad_amount', 6],
    ['Fe-1O', 'formula_bad_amount', 2],
    ['CuSO4·0H2O', 'formula_bad_amount', 6],
    ['Fe1.2.3O', 'formula_bad_amount', 2],
    ['Fe1e999', 'formula_bad_amount', 2],
    ['Fe'.repeat(129), 'formula_too_long', MAX_FORMULA_LENGTH],
    ['fe2o3', 'formula_syntax', 0],
    ['Fe2O3+', 'formula_syntax', 5],
    ['Fe2$O3', 'formula_syntax', 3],
    ['Fe()O', 'formula_syntax', 2],
    ['CuSO4·', 'formula_syntax', 6],
    ['·H2O', 'formula_syntax', 0],
    ['Fe2 3', 'formula_syntax', 4],
    ['5', 'formula_syntax', 1],
  ];
  for (const [input, code, position] of cases) {
    it(`${JSON.stringify(input.slice(0, 20))} → ${code} at ${position}`, () => {
      const e = parseError(() => parseFormula(input));
      assert.equal(e.code, code, e.message);
      assert.equal(e.position, position, e.message);
      assert.ok(e.message.length > 10);
    });
  }

  it('accepts exactly 256 characters', () => {
    const f = 'Fe'.repeat(128);
    assert.equal(f.length, MAX_FORMULA_LENGTH);
    assert.equal(parseFormula(f).amounts.Fe, 128);
  });
});

describe("parseFormula matches pymatgen's Composition on the reference table", () => {
  const ref = JSON.parse(readFileSync(new URL('formula_reference.json', DATA), 'utf8')) as {
    pymatgen: string;
    rows: [string, string, [string, number][], string, string?][];
  };

  it(`element amounts and reduced_formula equal pymatgen ${ref.pymatgen} for all ${ref.rows.length} rows`, () => {
    assert.ok(ref.rows.length > 5000);
    const wrongReduced: string[] = [];
    for (const [formula, reduced, amounts] of ref.rows) {
      const p = parseFormula(formula);
      assertAmounts(p.amounts, Object.fromEntries(amounts), formula);
      if (p.reducedFormula !== reduced) wrongReduced.push(`${formula}: ${p.reducedFormula} (pymatgen ${reduced})`);
    }
    const rate = 1 - wrongReduced.length / ref.rows.length;
    assert.deepEqual(wrongReduced.slice(0, 10), [], `reduced_formula match rate ${(100 * rate).toFixed(2)}%`);
  });

  it('the table covers the hard cases: groups, fractions, elements without electronegativity, adducts', () => {
    const reduced = ref.rows.map((r) => r[1]);
    assert.ok(reduced.filter((r) => r.includes('(')).length > 500);
    assert.ok(reduced.filter((r) => r.includes('.')).length > 300);
    assert.ok(ref.rows.filter((r) => r[2].some(([el]) => paulingElectronegativity(el) === undefined)).length > 300);
    assert.ok(ref.rows.some((r) => r[0].includes('·')));
  });
});

describe('reducedFormula', () => {
  it('orders by electronegativity, reduces by the gcd, and keeps pymatgen order for elements without one', () => {
    assert.equal(reducedFormula({ O: 6, Fe: 4 }), 'Fe2O3');
    assert.equal(reducedFormula({ Gd: 1, Eu: 1 }), 'EuGd');
    assert.equal(reducedFormula({ Tb: 1, La: 1 }), 'LaTb');
    assert.equal(reducedFormula({ He: 1, Fe: 2 }), 'HeFe2');
    assert.equal(reducedFormula({ Fe: 2, He: 1 }), 'Fe2He');
    assert.equal(reducedFormula({ Li: 2, O: 2 }), 'Li2O2');
    assert.equal(reducedFormula({ H: 4 }), 'H2');
    assert.equal(reducedFormula({ Li: 1e-5, O: 1 }), 'Li1e-05O1');
    assert.equal(reducedFormula({ Li: 0.1 + 0.2, O: 1 }), 'Li0.3O1');
    assert.equal(reducedFormula({}), '');
  });

  it('pymatgen X agrees with Magpie Electronegativity except for the six documented elements', () => {
    const csv = readFileSync(new URL('../../assets/elements/magpie.csv', import.meta.url), 'utf8').trim().split('\n');
    const header = csv[0].split(',');
    const col = header.indexOf('Electronegativity');
    const differ: string[] = [];
    for (const line of csv.slice(1)) {
      const cells = line.split(',');
      const magpie = cells[col] === '' ? undefined : Number(cells[col]);
      if (magpie !== paulingElectronegativity(cells[1])) differ.push(cells[1]);
    }
    assert.deepEqual(differ.sort(), ['Eu', 'Lr', 'Pm', 'Rn', 'Tb', 'Yb']);
  });

  it('pythonSort replays CPython: NaN keys never compare, so input order decides', () => {
    const lt = (a: number, b: number): boolean => a < b;
    assert.deepEqual(pythonSort([3, 1, 2], lt), [1, 2, 3]);
    // Python: sorted([2.0, nan, 1.0]) == [2.0, nan, 1.0]; sorted([nan, 2.0, 1.0]) == [nan, 1.0, 2.0]
    assert.deepEqual(pythonSort([2, NaN, 1], lt), [2, NaN, 1]);
    assert.deepEqual(pythonSort([NaN, 2, 1], lt), [NaN, 1, 2]);
    // sorted([3.0, 2.0, nan, 1.0]) == [1.0, 2.0, 3.0, nan] (descending run reversed, then binary insertion)
    assert.deepEqual(pythonSort([3, 2, NaN, 1], lt), [1, 2, 3, NaN]);
  });

  it('pythonFloatRepr writes floats as Python does', () => {
    const cases: [number, string][] = [[0.5, '0.5'], [2, '2.0'], [1e-5, '1e-05'], [0.0001, '0.0001'], [1.5e16, '1.5e+16'], [123.456, '123.456']];
    for (const [x, s] of cases) assert.equal(pythonFloatRepr(x), s);
  });
});

const SYMBOLS = ELEMENT_SYMBOLS.slice(1);
const elementArb = fc.constantFrom(...SYMBOLS);
const amountArb = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 999 }).map((k) => k / 100));

function writeAmount(a: number): string {
  return a === 1 ? '' : String(a);
}

describe('property-based', () => {
  it('random formulas written with groups, adducts and spaces parse to the composition they were built from', () => {
    const partArb = fc.array(fc.tuple(elementArb, amountArb), { minLength: 1, maxLength: 5 });
    const formulaArb = fc.record({
      parts: fc.array(fc.tuple(partArb, fc.option(amountArb, { nil: undefined }), fc.boolean(), fc.option(amountArb, { nil: undefined })), { minLength: 1, maxLength: 3 }),
      sep: fc.constantFrom('·', '•', '*', ' · '),
      space: fc.constantFrom('', ' '),
    });
    fc.assert(
      fc.property(formulaArb, ({ parts, sep, space }) => {
        const expected: Composition = {};
        const written = parts.map(([items, coefficient, bracket, groupMult], i) => {
          const coeff = i === 0 ? 1 : coefficient ?? 1;
          const mult = bracket ? groupMult ?? 1 : 1;
          for (const [el, a] of items) expected[el] = (expected[el] ?? 0) + a * mult * coeff;
          const body = items.map(([el, a]) => `${el}${space}${writeAmount(a)}`).join(space);
          const group = bracket ? `(${body})${writeAmount(mult)}` : body;
          return `${i === 0 ? '' : writeAmount(coeff)}${group}`;
        });
        const text = written.join(sep);
        fc.pre(text.length <= MAX_FORMULA_LENGTH);
        const p = parseFormula(text);
        assertAmounts(p.amounts, expected, text);
        // the reduced formula is itself a valid formula of the same composition (up to a factor)
        const back = atomicFractions(parseFormula(p.reducedFormula).amounts);
        assertAmounts(back, p.fractions, `${text} → ${p.reducedFormula}`);
      }),
      { numRuns: 400 },
    );
  });

  it('junk only ever produces a ParseError', () => {
    const alphabet = fc.constantFrom(...'()[]{}·•*@ .-+0123456789eFeOHCNaClxXyz\t,;$'.split(''));
    const junk = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: alphabet, maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 80 }));
    fc.assert(
      fc.property(junk, (s) => {
        try {
          const p = parseFormula(s);
          assert.ok(p.nAtoms > 0 && Number.isFinite(p.nAtoms));
          assert.ok(Object.values(p.amounts).every((a) => a > 0 && Number.isFinite(a)));
        } catch (e) {
          if (!(e instanceof ParseError)) throw e;
          assert.match(e.code, /^(formula_(empty|unknown_element|unbalanced|bad_amount|amount_too_small|too_long|syntax)|input_invalid_character)$/);
          assert.ok(Number.isInteger(e.position) && e.position! >= 0 && e.position! <= s.length, `${e.code} at ${e.position} in ${JSON.stringify(s)}`);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('deep nesting within the length limit is fine', () => {
    const deep = '('.repeat(80) + 'Fe' + ')2'.repeat(80);
    assert.ok(deep.length <= MAX_FORMULA_LENGTH);
    assert.equal(parseFormula(deep).amounts.Fe, 2 ** 80);
  });
});
