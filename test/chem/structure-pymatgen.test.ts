import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { structureComposition } from '../../src/chem/composition.js';
import { DEFAULT_STRUCTURE_LIMITS, parsePymatgenStructure, parseStructureInput } from '../../src/chem/structure/index.js';
import { assertClose, chemError, onlyChemErrors } from './structure-helpers.js';

// rock salt NaCl, primitive fcc cell, a = 5.64 Å: cell vectors (0, a/2, a/2), (a/2, 0, a/2), (a/2, a/2, 0)
const H = 2.82;
const NACL_MATRIX = [[0, H, H], [H, 0, H], [H, H, 0]];
const nacl = (sites: unknown[], lattice: unknown = { matrix: NACL_MATRIX }): Record<string, unknown> => ({
  '@module': 'pymatgen.core.structure',
  '@class': 'Structure',
  charge: 0,
  lattice,
  properties: {},
  sites,
});
const NA = { species: [{ element: 'Na', occu: 1 }], abc: [0, 0, 0], xyz: [0, 0, 0], label: 'Na', properties: {} };
const CL = { species: [{ element: 'Cl', occu: 1 }], abc: [0.5, 0.5, 0.5], xyz: [H, H, H], label: 'Cl', properties: {} };

describe('parsePymatgenStructure: accepted forms', () => {
  it('full as_dict with abc, xyz, labels and properties', () => {
    const s = parsePymatgenStructure(nacl([NA, { ...CL, label: 'Cl1', properties: { magmom: 0.5 } }]));
    assert.deepEqual(s.lattice, NACL_MATRIX);
    assert.deepEqual(s.sites.map((x) => x.frac), [[0, 0, 0], [0.5, 0.5, 0.5]]);
    assert.deepEqual(s.sites.map((x) => x.label), ['Na', 'Cl1']);
    assert.deepEqual(s.sites[1].properties, { magmom: 0.5 });
    assert.equal(s.partialOccupancy, false);
    assert.deepEqual(s.warnings, []);
  });

  it('only Cartesian xyz: converted with the inverse lattice', () => {
    const s = parsePymatgenStructure(nacl([{ species: NA.species, xyz: [0, 0, 0] }, { species: CL.species, xyz: [H, H, H] }]));
    assertClose(s.sites[1].frac, [0.5, 0.5, 0.5], 1e-12, 'Cl frac');
    // a point at a + b = (H, H, 2H) is frac (1, 1, 0)
    const t = parsePymatgenStructure(nacl([{ species: NA.species, xyz: [H, H, 2 * H] }]));
    assertClose(t.sites[0].frac, [1, 1, 0], 1e-12, 'a+b');
  });

  it('abc wins over xyz when both are given (as in pymatgen.from_dict)', () => {
    const s = parsePymatgenStructure(nacl([{ species: NA.species, abc: [0.25, 0, 0], xyz: [9, 9, 9] }]));
    assert.deepEqual(s.sites[0].frac, [0.25, 0, 0]);
  });

  it('oxidation states in species are read as the element', () => {
    const s = parsePymatgenStructure(nacl([
      { species: [{ element: 'Na', oxidation_state: 1, occu: 1 }], abc: [0, 0, 0] },
      { species: [{ element: 'Cl', oxidation_state: -1, occu: 1 }], abc: [0.5, 0.5, 0.5] },
    ]));
    assert.deepEqual(structureComposition(s), { Na: 1, Cl: 1 });
  });

  it('partial and mixed occupancies are kept and flagged', () => {
    const s = parsePymatgenStructure(nacl([
      { species: [{ element: 'Na', occu: 0.5 }, { element: 'K', occu: 0.5 }], abc: [0, 0, 0] },
      { species: [{ element: 'Cl', occu: 0.9 }], abc: [0.5, 0.5, 0.5] },
    ]));
    assert.equal(s.partialOccupancy, true);
    assert.deepEqual(s.sites[0].species, [{ element: 'Na', occu: 0.5 }, { element: 'K', occu: 0.5 }]);
    assert.deepEqual(structureComposition(s), { Na: 0.5, K: 0.5, Cl: 0.9 });
    assert.match(s.warnings.join(' '), /2 of 2 sites are disordered/);
  });

  it('lattice given by its six parameters', () => {
    const a = H * Math.SQRT2;
    const s = parsePymatgenStructure(nacl([NA], { a, b: a, c: a, alpha: 60, beta: 60, gamma: 60 }));
    const vol = Math.abs(
      s.lattice[0][0] * (s.lattice[1][1] * s.lattice[2][2] - s.lattice[1][2] * s.lattice[2][1]) -
        s.lattice[0][1] * (s.lattice[1][0] * s.lattice[2][2] - s.lattice[1][2] * s.lattice[2][0]) +
        s.lattice[0][2] * (s.lattice[1][0] * s.lattice[2][1] - s.lattice[1][1] * s.lattice[2][0]),
    );
    assert.ok(Math.abs(vol - 2 * H ** 3) < 1e-9, `volume ${vol}`); // |det| of NACL_MATRIX is 2H³
  });

  it('JSON text and parseStructureInput', () => {
    const s = parseStructureInput({ structure: JSON.stringify(nacl([NA, CL])) });
    assert.equal(s.sites.length, 2);
  });
});

describe('parsePymatgenStructure: errors', () => {
  const cases: [string, unknown, string][] = [
    ['not an object', 42, 'structure_invalid'],
    ['array', [], 'structure_invalid'],
    ['bad JSON text', '{"lattice":', 'structure_invalid'],
    ['no lattice', { sites: [NA] }, 'structure_invalid'],
    ['matrix 2×3', nacl([NA], { matrix: [[1, 0, 0], [0, 1, 0]] }), 'structure_invalid'],
    ['matrix with text', nacl([NA], { matrix: [[1, 0, 0], [0, '1', 0], [0, 0, 1]] }), 'structure_invalid'],
    ['NaN in matrix', nacl([NA], { matrix: [[1, 0, 0], [0, NaN, 0], [0, 0, 1]] }), 'structure_non_finite'],
    ['Infinity coordinate', nacl([{ species: NA.species, abc: [0, Infinity, 0] }]), 'structure_non_finite'],
    ['sites not a list', nacl({} as unknown as unknown[]), 'structure_invalid'],
    ['no sites', nacl([]), 'structure_empty'],
    ['site without coordinates', nacl([{ species: NA.species }]), 'structure_invalid'],
    ['abc of length 2', nacl([{ species: NA.species, abc: [0, 0] }]), 'structure_invalid'],
    ['species empty', nacl([{ species: [], abc: [0, 0, 0] }]), 'structure_invalid'],
    ['unknown element', nacl([{ species: [{ element: 'Xx', occu: 1 }], abc: [0, 0, 0] }]), 'structure_unknown_element'],
    ['dummy species', nacl([{ species: [{ element: 'X0+', occu: 1 }], abc: [0, 0, 0] }]), 'structure_unknown_element'],
    ['occupancy 0', nacl([{ species: [{ element: 'Na', occu: 0 }], abc: [0, 0, 0] }]), 'structure_bad_occupancy'],
    ['occupancy 1.5', nacl([{ species: [{ element: 'Na', occu: 1.5 }], abc: [0, 0, 0] }]), 'structure_bad_occupancy'],
    ['occupancies add to 1.6', nacl([{ species: [{ element: 'Na', occu: 0.8 }, { element: 'K', occu: 0.8 }], abc: [0, 0, 0] }]), 'structure_bad_occupancy'],
    ['flat lattice', nacl([NA], { matrix: [[1, 0, 0], [0, 1, 0], [1, 1, 0]] }), 'structure_degenerate_lattice'],
    ['impossible angles', nacl([NA], { a: 1, b: 1, c: 1, alpha: 10, beta: 10, gamma: 90 }), 'structure_degenerate_lattice'],
    ['Molecule', { '@class': 'Molecule', sites: [] }, 'structure_invalid'],
  ];
  for (const [what, input, code] of cases) {
    it(`${what} → ${code}`, () => assert.equal(chemError(() => parsePymatgenStructure(input)).code, code));
  }

  it('too many sites (default 500, configurable) and tiny volume per site', () => {
    // a 50 × 11 grid in a 100 × 10 × 10 Å cell: sites 2 Å and 0.91 Å apart, never overlapping
    const many = (n: number): unknown[] => Array.from({ length: n }, (_, i) => ({ species: NA.species, abc: [(i % 50) / 50, Math.floor(i / 50) / 11, 0] }));
    const big = nacl(many(501), { matrix: [[100, 0, 0], [0, 10, 0], [0, 0, 10]] });
    assert.equal(chemError(() => parsePymatgenStructure(big)).code, 'structure_too_many_sites');
    assert.equal(parsePymatgenStructure(big, { maxSites: 600 }).sites.length, 501);
    assert.equal(chemError(() => parsePymatgenStructure(nacl(many(20), { matrix: [[1, 0, 0], [0, 0.01, 0], [0, 0, 0.01]] }))).code, 'structure_degenerate_lattice');
    assert.equal(DEFAULT_STRUCTURE_LIMITS.maxSites, 500);
    assert.equal(DEFAULT_STRUCTURE_LIMITS.minVolumePerSite, 1e-3);
  });

  it('parseStructureInput wants exactly one input', () => {
    assert.equal(chemError(() => parseStructureInput({})).code, 'structure_invalid');
    assert.equal(chemError(() => parseStructureInput({ cif: 'x', poscar: 'y' })).code, 'structure_invalid');
    assert.equal(chemError(() => parseStructureInput({ cif: 42 as unknown as string })).code, 'structure_invalid');
    assert.equal(chemError(() => parseStructureInput(null as unknown as object)).code, 'structure_invalid');
  });
});

describe('parsePymatgenStructure: fuzzing', () => {
  it('arbitrary JSON values only ever give a structure or a ChemError', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => onlyChemErrors(() => parsePymatgenStructure(v))), { numRuns: 400 });
  });

  it('mutated valid structures only ever give a structure or a ChemError', () => {
    const anyLeaf = fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.string({ maxLength: 5 }), fc.constant([]), fc.constant({}), fc.array(fc.double(), { maxLength: 4 }));
    const site = fc.record({
      species: fc.oneof(anyLeaf, fc.array(fc.record({ element: fc.oneof(fc.constantFrom('Na', 'Cl', 'Fe2+', 'Xx', ''), anyLeaf), occu: fc.oneof(fc.double({ min: -1, max: 2 }), anyLeaf) }, { requiredKeys: [] }), { maxLength: 3 })),
      abc: fc.oneof(anyLeaf, fc.array(fc.double(), { minLength: 3, maxLength: 3 })),
      xyz: fc.oneof(anyLeaf, fc.array(fc.double({ min: -10, max: 10 }), { minLength: 3, maxLength: 3 })),
      label: anyLeaf,
      properties: anyLeaf,
    }, { requiredKeys: [] });
    const lattice = fc.oneof(anyLeaf, fc.record({ matrix: fc.oneof(anyLeaf, fc.array(fc.array(fc.double({ min: -10, max: 10 }), { minLength: 3, maxLength: 3 }), { minLength: 3, maxLength: 3 })) }, { requiredKeys: [] }));
    fc.assert(fc.property(fc.record({ lattice, sites: fc.oneof(anyLeaf, fc.array(site, { maxLength: 6 })) }, { requiredKeys: [] }), (v) => onlyChemErrors(() => parsePymatgenStructure(v))), { numRuns: 600 });
  });
});
