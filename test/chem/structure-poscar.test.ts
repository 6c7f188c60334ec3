import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { structureComposition } from '../../src/chem/composition.js';
import { latticeParameters, parsePoscar, parseStructureInput } from '../../src/chem/structure/index.js';
import { assertClose, chemError, onlyChemErrors } from './structure-helpers.js';

// Rutile TiO2 (a = 4.594, c = 2.959, u = 0.305): Ti at (0,0,0), (1/2,1/2,1/2); O at ±(u,u,0), ±(u+1/2, 1/2-u, 1/2).
const U = 0.305;
const RUTILE_FRAC: [string, number[]][] = [
  ['Ti', [0, 0, 0]], ['Ti', [0.5, 0.5, 0.5]],
  ['O', [U, U, 0]], ['O', [1 - U, 1 - U, 0]], ['O', [0.5 + U, 0.5 - U, 0.5]], ['O', [0.5 - U, 0.5 + U, 0.5]],
];
const coords = (f: (v: number[]) => number[], suffix = ''): string => RUTILE_FRAC.map(([, v]) => f(v).map((x) => x.toFixed(10)).join(' ') + suffix).join('\n');
const poscar = (opts: { scale?: string; lattice?: number[][]; species?: string | null; mode?: string; sd?: boolean; body?: string } = {}): string => {
  const lattice = opts.lattice ?? [[4.594, 0, 0], [0, 4.594, 0], [0, 0, 2.959]];
  return [
    'TiO2 rutile',
    opts.scale ?? '1.0',
    ...lattice.map((r) => '  ' + r.join(' ')),
    ...(opts.species === null ? [] : [opts.species ?? 'Ti O']),
    '2 4',
    ...(opts.sd ? ['Selective dynamics'] : []),
    opts.mode ?? 'Direct',
    opts.body ?? coords((v) => v, opts.sd ? ' T T F' : ''),
    '',
  ].join('\n');
};

function assertRutile(s: ReturnType<typeof parsePoscar>, abc = [4.594, 4.594, 2.959]): void {
  assertClose(latticeParameters(s.lattice).abc, abc, 1e-9, 'abc');
  assert.deepEqual(s.sites.map((x) => x.species[0].element), RUTILE_FRAC.map(([el]) => el));
  s.sites.forEach((site, i) => assertClose(site.frac, RUTILE_FRAC[i][1], 1e-9, `site ${i}`));
  assert.deepEqual(structureComposition(s), { Ti: 2, O: 4 });
}

describe('parsePoscar: accepted forms', () => {
  it('VASP 5, Direct', () => assertRutile(parsePoscar(poscar())));

  it('Cartesian coordinates (also "K" for Kartesisch, any case)', () => {
    const cart = coords((v) => [v[0] * 4.594, v[1] * 4.594, v[2] * 2.959]);
    assertRutile(parsePoscar(poscar({ mode: 'Cartesian', body: cart })));
    assertRutile(parsePoscar(poscar({ mode: 'kartesisch', body: cart })));
  });

  it('scale factor applies to the lattice and to Cartesian coordinates', () => {
    const half = [[2.297, 0, 0], [0, 2.297, 0], [0, 0, 1.4795]];
    assertRutile(parsePoscar(poscar({ scale: '2.0', lattice: half })));
    const cartHalf = coords((v) => [v[0] * 2.297, v[1] * 2.297, v[2] * 1.4795]);
    assertRutile(parsePoscar(poscar({ scale: '2.0', lattice: half, mode: 'C', body: cartHalf })));
  });

  it('negative scale = target volume in Å³', () => {
    const volume = 4.594 * 4.594 * 2.959;
    assertRutile(parsePoscar(poscar({ scale: `-${volume}`, lattice: [[1, 0, 0], [0, 1, 0], [0, 0, 2.959 / 4.594]] })));
  });

  it('three scale factors (one per Cartesian axis)', () => {
    assertRutile(parsePoscar(poscar({ scale: '4.594 4.594 2.959', lattice: [[1, 0, 0], [0, 1, 0], [0, 0, 1]] })));
  });

  it('VASP 4 (no species line) with the species given separately; an error without', () => {
    assertRutile(parsePoscar(poscar({ species: null }), undefined, { species: ['Ti', 'O'] }));
    assertRutile(parseStructureInput({ poscar: poscar({ species: null }), species: ['Ti', 'O'] }));
    const e = chemError(() => parsePoscar(poscar({ species: null })));
    assert.equal(e.code, 'poscar_missing_species');
    assert.equal(e.position, 6);
  });

  it('selective dynamics flags become the site property selective_dynamics', () => {
    const s = parsePoscar(poscar({ sd: true }));
    assertRutile(s);
    assert.deepEqual(s.sites[3].properties, { selective_dynamics: [true, true, false] });
  });

  it('POTCAR-style species (Ti_pv, O/hash), trailing species names, velocities after the positions, CRLF', () => {
    const text = poscar({ species: 'Ti_pv O/8a4f2c', body: coords((v) => v, ' Xx') }) + '\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n';
    assertRutile(parsePoscar(text.replace(/\n/g, '\r\n')));
  });

  it('an empty comment line is fine; Fortran D exponents are numbers', () => {
    assertRutile(parsePoscar(poscar({ scale: '1.0D0' }).replace('TiO2 rutile', '')));
  });
});

describe('parsePoscar: errors', () => {
  const cases: [string, string, string, number?][] = [
    ['empty', '', 'poscar_too_short'],
    ['only a comment', 'hello\n', 'poscar_too_short', 2],
    ['scale not a number', poscar({ scale: 'one' }), 'poscar_bad_scale', 2],
    ['scale zero', poscar({ scale: '0' }), 'poscar_bad_scale', 2],
    ['lattice row short', poscar({ lattice: [[4.594, 0], [0, 4.594, 0], [0, 0, 2.959]] }), 'poscar_bad_lattice', 3],
    ['flat lattice', poscar({ lattice: [[1, 0, 0], [0, 1, 0], [1, 1, 0]] }), 'structure_degenerate_lattice'],
    ['flat lattice, Cartesian', poscar({ lattice: [[1, 0, 0], [0, 1, 0], [1, 1, 0]], mode: 'Cartesian' }), 'structure_degenerate_lattice'],
    ['negative scale on a flat lattice', poscar({ scale: '-10', lattice: [[1, 0, 0], [0, 1, 0], [1, 1, 0]] }), 'structure_degenerate_lattice'],
    ['unknown species', poscar({ species: 'Ti Qq' }), 'structure_unknown_element'],
    ['species / counts mismatch', poscar({ species: 'Ti O N' }), 'poscar_species_mismatch', 7],
    ['count not a number', poscar().replace('2 4', '2 four'), 'poscar_bad_counts', 7],
    ['count zero', poscar().replace('2 4', '2 0'), 'poscar_bad_counts', 7],
    ['too few coordinate lines', poscar().replace(/\n[^\n]+\n$/, '\n'), 'poscar_too_short', 14],
    ['coordinate not a number', poscar().replace('0.5000000000 0.5000000000 0.5000000000', '0.5 half 0.5'), 'poscar_bad_coordinates', 10],
    ['infinite coordinate', poscar().replace('0.5000000000 0.5000000000 0.5000000000', '0.5 1e999 0.5'), 'structure_non_finite', 10],
    ['selective dynamics without flags', poscar({ sd: true }).replace(' T T F\n', '\n'), 'poscar_bad_selective_dynamics', 10],
    ['blank line inside the header', poscar().replace('Ti O\n', '\nTi O\n'), 'poscar_syntax', 6],
  ];
  for (const [what, text, code, line] of cases) {
    it(`${what} → ${code}`, () => {
      const e = chemError(() => parsePoscar(text));
      assert.equal(e.code, code, e.message);
      if (line !== undefined) assert.equal(e.position, line, e.message);
    });
  }

  it('pathological numbers are rejected', () => {
    assert.equal(chemError(() => parsePoscar(poscar({ scale: '1'.repeat(200_000) + 'x' }))).code, 'poscar_bad_scale');
    assert.equal(chemError(() => parsePoscar(poscar().replace('2 4', '2 ' + '4'.repeat(100_000)))).code, 'poscar_bad_counts');
  });

  it('more atoms than maxSites fails before reading coordinates', () => {
    const e = chemError(() => parsePoscar(poscar().replace('2 4', '2 4000000000')));
    assert.equal(e.code, 'structure_too_many_sites');
    assert.equal(chemError(() => parsePoscar(poscar(), { maxSites: 5 })).code, 'structure_too_many_sites');
    assert.equal(parsePoscar(poscar(), { maxSites: 6 }).sites.length, 6);
  });
});

describe('parsePoscar: fuzzing', () => {
  it('random text and random edits of a valid POSCAR only ever give a structure or a ChemError', () => {
    const base = poscar({ sd: true });
    const edit = fc.tuple(fc.nat(base.length), fc.nat(12), fc.constantFrom('', ' ', '\n', '-', '0', 'T', 'x', 'e9', 'Cartesian\n', 'Fe'));
    const texts = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => edits.reduce((t, [at, del, ins]) => t.slice(0, at) + ins + t.slice(at + del), base)),
    );
    fc.assert(fc.property(texts, fc.option(fc.array(fc.constantFrom('Ti', 'O', 'Xx', ''), { maxLength: 3 }), { nil: undefined }), (t, species) => {
      onlyChemErrors(() => parsePoscar(t, undefined, species ? { species } : undefined));
    }), { numRuns: 1000 });
  });
});
