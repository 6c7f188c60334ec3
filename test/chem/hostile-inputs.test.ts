/**
 * Issue 14, the chemistry part: each input a hostile pass over HTTP sent, exactly as sent, now gives a ChemError
 * (422) with a stable code and a message that names the place; and the limits behind them refuse nothing real.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFormula } from '../../src/chem/formula.js';
import { resolveInput, type MaterialInput } from '../../src/chem/input.js';
import { buildNeighborGraph } from '../../src/chem/neighbors.js';
import { PeriodicSearch } from '../../src/chem/periodic-search.js';
import { InvalidInputsError, resolveEach } from '../../src/chem/resolve-inputs.js';
import { parsePymatgenStructure } from '../../src/chem/structure/index.js';
import { ChemError, ParseError, type Structure } from '../../src/chem/types.js';
import { chemError, toCif } from './structure-helpers.js';

/** Rock salt in its 8-atom conventional cell, written in P1 with an occupancy column; `rows` are added atom rows. */
const FCC: [number, number, number][] = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]];
const NACL = (a = '5.64', rows = '', angles = ['90', '90', '90']): string => {
  const atom = (element: string, abc: [number, number, number]) => ({ species: [{ element, occu: 1 }], abc });
  const sites = [...FCC.map((f) => atom('Na', f)), ...FCC.map((f) => atom('Cl', f.map((x) => (x + 0.5) % 1) as [number, number, number]))];
  const cif = toCif({ lattice: { matrix: [[5.64, 0, 0], [0, 5.64, 0], [0, 0, 5.64]] }, sites });
  return cif
    .replace(/_cell_length_a .*/, `_cell_length_a ${a}`)
    .replace(/_cell_angle_alpha .*/, `_cell_angle_alpha ${angles[0]}`)
    .replace(/_cell_angle_beta .*/, `_cell_angle_beta ${angles[1]}`)
    .replace(/_cell_angle_gamma .*/, `_cell_angle_gamma ${angles[2]}`) + rows;
};
const lineOf = (text: string, start: string): number => text.split('\n').findIndex((l) => l.startsWith(start)) + 1;

const POSCAR = (scale: string, lattice = ['3.0 0 0', '0 3.0 0', '0 0 3.0']): string => `NaCl\n${scale}\n${lattice.join('\n')}\nNa Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n`;
const dict = (matrix: unknown, sites: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({ lattice: { matrix }, sites, ...extra });
const site = (element: string, abc: number[], more: Record<string, unknown> = {}): Record<string, unknown> => ({ species: [{ element, occu: 1 }], abc, ...more });
const CUBE5 = [[5, 0, 0], [0, 5, 0], [0, 0, 5]];

function refused(input: unknown): ChemError {
  return chemError(() => resolveInput(input as MaterialInput));
}

describe('hostile 1: absurd cells are refused at parse time, and the neighbour search never throws anything else', () => {
  it('the reported CIF: _cell_length_a 1e308 → structure_cell_too_large on its line (was a RangeError in the binning, a 500)', () => {
    const cif = NACL('1e308');
    const e = refused({ cif });
    assert.equal(e.code, 'structure_cell_too_large');
    assert.equal(e.position, lineOf(cif, '_cell_length_a'));
    assert.match(e.message, /_cell_length_a is 1e\+308; at most 1000 Å/);
  });

  const cellCases: [string, MaterialInput, string][] = [
    ['CIF a = 1e5 Å', { cif: NACL('1e5') }, 'structure_cell_too_large'],
    ['CIF a = 0', { cif: NACL('0') }, 'structure_degenerate_lattice'],
    ['CIF a = -5.64', { cif: NACL('-5.64') }, 'structure_degenerate_lattice'],
    ['CIF a = 1e-300', { cif: NACL('1e-300') }, 'structure_degenerate_lattice'],
    ['CIF α = 0', { cif: NACL('5.64', '', ['0', '90', '90']) }, 'structure_bad_cell_angle'],
    ['CIF α = 180', { cif: NACL('5.64', '', ['180', '90', '90']) }, 'structure_bad_cell_angle'],
    ['CIF α = 270 (was read as 90)', { cif: NACL('5.64', '', ['270', '90', '90']) }, 'structure_bad_cell_angle'],
    ['CIF α = -90', { cif: NACL('5.64', '', ['-90', '90', '90']) }, 'structure_bad_cell_angle'],
    ['CIF angles that cannot close a cell', { cif: NACL('5.64', '', ['20', '20', '90']) }, 'structure_degenerate_lattice'],
    ['CIF nearly flat (three angles of 119.999°)', { cif: NACL('5.64', '', ['119.999', '119.999', '119.999']) }, 'structure_degenerate_lattice'],
    ['POSCAR scale 1e308 (the lattice overflows)', { poscar: POSCAR('1e308') }, 'structure_non_finite'],
    ['POSCAR scale 1e300', { poscar: POSCAR('1e300') }, 'structure_cell_too_large'],
    ['POSCAR negative-volume scale -1e300 Å³', { poscar: POSCAR('-1e300') }, 'structure_cell_too_large'],
    ['POSCAR negative-volume scale -1e-300 Å³', { poscar: POSCAR('-1e-300') }, 'structure_degenerate_lattice'],
    ['POSCAR per-axis scale 1 1 1e-9', { poscar: POSCAR('1 1 1e-9') }, 'structure_degenerate_lattice'],
    ['POSCAR lattice vector of 1e308 Å', { poscar: POSCAR('1.0', ['1e308 0 0', '0 3 0', '0 0 3']) }, 'structure_cell_too_large'],
    ['POSCAR negative-volume scale on a flat lattice', { poscar: POSCAR('-27', ['3 0 0', '0 3 0', '3 3 0']) }, 'structure_degenerate_lattice'],
    ['POSCAR lattice planes 0.03 Å apart (a skewed basis)', { poscar: POSCAR('1.0', ['3 0 0', '0 3 0', '300 0 0.3']) }, 'structure_degenerate_lattice'],
  ];
  for (const [what, input, code] of cellCases) {
    it(`${what} → ${code}`, () => {
      const e = refused(input);
      assert.equal(e.code, code, e.message);
      assert.match(e.message, 'cif' in input ? /^CIF/ : /^POSCAR/);
    });
  }

  it('pymatgen: a 1e308 matrix, a = 1e308 as a parameter, an angle of 200°', () => {
    assert.equal(refused({ structure: dict([[1e308, 0, 0], [0, 5, 0], [0, 0, 5]], [site('Na', [0, 0, 0])]) }).code, 'structure_cell_too_large');
    const params = { a: 1e308, b: 5, c: 5, alpha: 90, beta: 90, gamma: 90 };
    assert.match(refused({ structure: { lattice: params, sites: [site('Na', [0, 0, 0])] } }).message, /lattice\.a is 1e\+308/);
    assert.equal(refused({ structure: { lattice: { ...params, a: 5, gamma: 200 }, sites: [site('Na', [0, 0, 0])] } }).code, 'structure_bad_cell_angle');
  });

  it('the neighbour graph of an unchecked structure with a 1e308 or 1e200 Å cell is a ChemError, not a RangeError', () => {
    for (const L of [1e308, 1e200]) {
      const s: Structure = { lattice: [[L, 0, 0], [0, L, 0], [0, 0, L]], sites: [{ species: [{ element: 'Na', occu: 1 }], frac: [0, 0, 0] }], partialOccupancy: false, warnings: [] };
      assert.equal(chemError(() => buildNeighborGraph(s)).code, 'structure_cell_too_large');
    }
  });

  it('a periodic search past its step budget stops with structure_search_too_large', () => {
    const s: Structure = { lattice: [[3, 0, 0], [0, 3, 0], [0, 0, 3]], sites: [{ species: [{ element: 'Na', occu: 1 }], frac: [0, 0, 0] }], partialOccupancy: false, warnings: [] };
    const search = new PeriodicSearch(s, 8, undefined, 100);
    const e = chemError(() => search.around(0, 64, () => 64));
    assert.equal(e.code, 'structure_search_too_large');
    let images = 0;
    new PeriodicSearch(s, 8).around(0, 64, () => (images++, 64));
    assert.equal(images, 81, 'a 3 Å cube has 81 lattice points within 8 Å, i² + j² + k² ≤ 64/9 (the site itself included)');
  });
});

describe('hostile 2: formula amounts', () => {
  it('the reported formula: Fe1e-300O → formula_amount_too_small naming Fe at position 0 (was O2 with Fe in the composition)', () => {
    const e = refused({ formula: 'Fe1e-300O' });
    assert.ok(e instanceof ParseError);
    assert.equal(e.code, 'formula_amount_too_small');
    assert.equal(e.position, 0);
    assert.match(e.message, /^Fe \(first written at position 0\).*1e-300/);
  });

  const cases: [string, string, number, RegExp][] = [
    ['Fe1e400', 'formula_bad_amount', 2, /Fe at position 2 is too large/],
    ['(Fe1e300)1e300O', 'formula_bad_amount', 1, /^Fe/],
    ['Fe1e308Fe1e308O', 'formula_bad_amount', 0, /^Fe/],
    ['CuSO4·1e-9H2O', 'formula_amount_too_small', 10, /^H \(first written at position 10\).*amount is 2e-9/],
    ['(FeO0.001)0.0001', 'formula_amount_too_small', 3, /^O \(first written at position 3\).*amount is 1\.0+\d*e-7/],
    ['Fe1e300O', 'formula_amount_too_small', 7, /^O .*only 1\.00e-300 of the atoms/],
  ];
  for (const [formula, code, position, message] of cases) {
    it(`${formula} → ${code} at ${position}`, () => {
      const e = refused({ formula });
      assert.equal(e.code, code);
      assert.equal(e.position, position);
      assert.match(e.message, message);
    });
  }

  it('amounts at the limits are kept, in both the composition and the reduced formula', () => {
    for (const formula of ['Fe0.000001O', '(Og0.00001Rf)0.5Pb0.1', 'Fe1000000O0.02']) {
      const r = resolveInput({ formula });
      assert.deepEqual(Object.keys(parseFormula(r.formula).amounts).sort(), Object.keys(r.composition).sort(), formula);
    }
  });
});

describe('hostile 3: occupancies outside (0, 1] are refused, naming the site', () => {
  for (const occu of ['0', '-1', '1e-7', '1.5']) {
    it(`CIF occupancy ${occu} → structure_bad_occupancy on its line, with the site's number and label (0 and -1 used to drop the site)`, () => {
      const cif = NACL('5.64', `K1 K 0.25 0.25 0.25 ${occu}\n`);
      const e = refused({ cif });
      assert.equal(e.code, 'structure_bad_occupancy');
      assert.equal(e.position, lineOf(cif, 'K1'));
      assert.match(e.message, new RegExp(`atom site 9 "K1" has occupancy ${occu.replace('.', '\\.')}`));
    });
  }

  it('CIF occupancy 1.0005 is rounding: accepted as 1', () => {
    const r = resolveInput({ cif: NACL('5.64', 'K1 K 0.25 0.25 0.25 1.0005\n') });
    assert.equal(r.structure!.sites[8].species[0].occu, 1);
  });

  it('pymatgen occu 0, -1, 1e-7 and 1.2, and a site whose occupancies add up to 1.2', () => {
    for (const occu of [0, -1, 1e-7, 1.2]) {
      const e = refused({ structure: dict(CUBE5, [{ species: [{ element: 'Fe', occu }], abc: [0, 0, 0], label: 'Fe7' }]) });
      assert.equal(e.code, 'structure_bad_occupancy');
      assert.match(e.message, /sites\[0\] \("Fe7"\)\.species\[0\]\.occu \(Fe\)/);
    }
    const mixed = { species: [{ element: 'Fe', occu: 0.6 }, { element: 'Co', occu: 0.6 }], abc: [0, 0, 0] };
    assert.match(refused({ structure: dict(CUBE5, [site('O', [0.5, 0.5, 0.5]), mixed]) }).message, /site 2 \(Fe 0\.6 \+ Co 0\.6\) add up to 1\.2000/);
  });
});

describe('hostile 4: sites closer than 0.5 Å are sites_overlap, naming the pair', () => {
  // a fixed pseudo-random generator: the same 500 positions every run
  let seed = 14;
  const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const crowd = Array.from({ length: 500 }, () => [rand(), rand(), rand()]);

  it('the reported structure: 500 atoms in 1 Å³ (predicted at −37 eV/atom without a word)', () => {
    const e = refused({ structure: dict([[1, 0, 0], [0, 1, 0], [0, 0, 1]], crowd.map((abc) => site('Fe', abc))) });
    assert.equal(e.code, 'sites_overlap');
    assert.match(e.message, /^the pymatgen structure: site \d+ \(Fe\) and site \d+ \(Fe\) are only 0\.\d{3} Å apart/);
    const poscar = `crowd\n1.0\n1 0 0\n0 1 0\n0 0 1\nFe\n500\nDirect\n${crowd.map((f) => f.join(' ')).join('\n')}\n`;
    assert.equal(refused({ poscar }).code, 'sites_overlap');
  });

  it('across the cell boundary: labels, numbers and the minimum-image distance', () => {
    const e = refused({ structure: dict([[10, 0, 0], [0, 10, 0], [0, 0, 10]], [site('O', [0.01, 0.5, 0.5], { label: 'O1' }), site('H', [0.99, 0.5, 0.5], { label: 'H1' })]) });
    assert.equal(e.code, 'sites_overlap');
    assert.match(e.message, /site 1 "O1" \(O\) and site 2 "H1" \(H\) are only 0\.200 Å apart/);
  });

  it('a site and its own image: a 0.4 Å cell edge, and a skewed cell whose b − a is 0.36 Å', () => {
    assert.match(refused({ structure: dict([[0.4, 0, 0], [0, 5, 0], [0, 0, 5]], [site('Na', [0, 0, 0])]) }).message, /site 1 \(Na\) is only 0\.400 Å from its own periodic image/);
    assert.match(refused({ structure: dict([[5, 0, 0], [5.2, 0.3, 0], [0, 0, 5]], [site('Na', [0, 0, 0])]) }).message, /only 0\.361 Å from its own periodic image/);
  });

  it('CIF rows 0.3 Å apart are two sites even at occupancy 0.5 each; rows on one position share one disordered site', () => {
    const split = refused({ cif: NACL('5.64', 'K1 K 0.25 0.25 0.25 0.5\nK2 K 0.25 0.25 0.3032 0.5\n') });
    assert.match(split.message, /site 9 "K1" \(K 0\.5\) and site 10 "K2" \(K 0\.5\) are only 0\.300 Å apart/);
    const shared = resolveInput({ cif: NACL('5.64', 'K1 K 0.25 0.25 0.25 0.5\nRb1 Rb 0.25 0.25 0.25 0.5\n') });
    assert.deepEqual(shared.structure!.sites[8].species, [{ element: 'K', occu: 0.5 }, { element: 'Rb', occu: 0.5 }]);
  });

  it('H2 at 0.74 Å, the shortest bond, is accepted', () => {
    assert.equal(resolveInput({ structure: dict(CUBE5, [site('H', [0, 0, 0]), site('H', [0.148, 0, 0])]) }).formula, 'H2');
  });
});

describe('hostile 5: NUL characters are refused before anything else', () => {
  it('in a formula: the character position (parseFormula itself, and through resolveInput)', () => {
    const e = chemError(() => parseFormula('Fe\0O'));
    assert.ok(e instanceof ParseError);
    assert.deepEqual([e.code, e.position], ['input_invalid_character', 2]);
    assert.deepEqual([refused({ formula: 'Fe\0O' }).code, refused({ formula: 'Fe\0O' }).position], ['input_invalid_character', 2]);
  });

  it('in a CIF label or a POSCAR: the line', () => {
    const cif = NACL('5.64', 'K\0 K 0.25 0.25 0.25 1\n');
    assert.deepEqual([refused({ cif }).code, refused({ cif }).position], ['input_invalid_character', lineOf(cif, 'K')]);
    assert.equal(refused({ poscar: POSCAR('1.0').replace('Na Cl', 'Na\0Cl') }).position, 6);
  });

  it('in a POSCAR species list, and in any string or key of a pymatgen dict (also as JSON text)', () => {
    const vasp4 = POSCAR('1.0').replace('Na Cl\n', '');
    assert.equal(refused({ poscar: vasp4, species: ['Na\0', 'Cl'] }).code, 'input_invalid_character');
    const ok = [site('Na', [0, 0, 0]), site('Cl', [0.5, 0.5, 0.5])];
    for (const structure of [
      dict(CUBE5, [site('Na', [0, 0, 0], { label: 'Na\0' })]),
      dict(CUBE5, [site('Na', [0, 0, 0], { properties: { magmom: ['x\0'] } })]),
      dict(CUBE5, ok, { '\0': 1 }),
      dict(CUBE5, ok, { charge: 'Na\0' }),
    ]) {
      assert.equal(refused({ structure }).code, 'input_invalid_character');
    }
    const text = JSON.stringify(dict(CUBE5, [site('Na', [0, 0, 0], { label: 'Na\0' })]));
    assert.ok(text.includes('\\u0000'));
    assert.match(chemError(() => parsePymatgenStructure(text)).message, /sites\[0\]\.label contains a NUL/);
  });

  it('nesting beyond 32 levels is input_too_deep, and 100,000 levels do not overflow the stack', () => {
    const nested = (levels: number): unknown => {
      let v: unknown = 1;
      for (let i = 0; i < levels; i++) v = [v];
      return v;
    };
    // the magmom array sits 5 levels down (input.structure.sites[0].properties.magmom): 28 more reach 33
    for (const magmom of [nested(100_000), nested(28)]) {
      assert.equal(refused({ structure: dict(CUBE5, [site('Na', [0, 0, 0], { properties: { magmom } })]) }).code, 'input_too_deep');
    }
    assert.equal(resolveInput({ structure: dict(CUBE5, [site('Na', [0, 0, 0], { properties: { magmom: nested(27) } })]) }).formula, 'Na');
  });
});

describe('a batch of hostile inputs is one 422 listing each problem with its index', () => {
  it('resolveEach collects the ChemErrors of every input', () => {
    const inputs = [{ formula: 'Fe1e-300O' }, { formula: 'Fe2O3' }, { cif: NACL('1e308') }, { formula: 'Fe\0O' }] as MaterialInput[];
    assert.throws(
      () => resolveEach(inputs, (r) => r.formula),
      (e: unknown) => {
        assert.ok(e instanceof InvalidInputsError);
        assert.equal(e.status, 422);
        assert.deepEqual(e.problems.map((p) => [p.index, p.code]), [[0, 'formula_amount_too_small'], [2, 'structure_cell_too_large'], [3, 'input_invalid_character']]);
        return true;
      },
    );
  });
});
