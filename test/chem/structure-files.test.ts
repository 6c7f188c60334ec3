import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { structureComposition } from '../../src/chem/composition.js';
import { reducedFormula } from '../../src/chem/formula.js';
import { latticeParameters, parseCif, parsePoscar, parsePymatgenStructure, parseStructureInput } from '../../src/chem/structure/index.js';
import { assertClose, assertSameSites, type RefSite } from './structure-helpers.js';

/*
 * Real task structures written by pymatgen (bench/make_chem_testdata.py): CifWriter without symmetry, with symmetry in
 * the original cell (symprec 0.01, refine_struct=False) and refined to the conventional cell, Poscar (direct, Cartesian,
 * VASP 4, selective dynamics). Each parse must give the sites pymatgen reads from the same file, and, where the cell is
 * the original one, the sites of the original structure.
 */

const DIR = new URL('../data/chem/structures/', import.meta.url);

interface PmgRead {
  lattice: number[][];
  abc: number[];
  angles: number[];
  sites: RefSite[];
}
interface Expected {
  structures: Record<string, { source: string; n_sites: number; reduced_formula: string; files: Record<string, string> }>;
  files: Record<string, {
    structure: string;
    same_cell_as_original: boolean;
    pymatgen_reads_original: boolean;
    species_order: string[] | null;
    pymatgen_reads: PmgRead;
  }>;
}

const expected = JSON.parse(readFileSync(new URL('expected.json', DIR), 'utf8')) as Expected;
const read = (name: string): string => readFileSync(new URL(name, DIR), 'utf8');

interface PmgDict {
  lattice: { matrix: number[][] };
  sites: { species: { element: string; occu: number }[]; abc: number[] }[];
}
function originalSites(name: string): RefSite[] {
  const d = JSON.parse(read(`${name}.json`)) as PmgDict;
  return d.sites.map((s) => ({ species: s.species.map((sp) => [sp.element, sp.occu] as [string, number]), abc: s.abc }));
}

describe('real structures: pymatgen JSON', () => {
  for (const [name, entry] of Object.entries(expected.structures)) {
    it(`${name} (${entry.source}, ${entry.n_sites} sites)`, () => {
      const text = read(entry.files.pymatgen);
      const obj = JSON.parse(text) as PmgDict;
      const s = parsePymatgenStructure(obj);
      assert.deepEqual(s.lattice, obj.lattice.matrix);
      assertSameSites(s, originalSites(name), 1e-9, name);
      // the same from JSON text and through parseStructureInput
      assert.deepEqual(parseStructureInput({ structure: text }).sites, s.sites);
      assert.equal(reducedFormula(structureComposition(s)), entry.reduced_formula);
      assert.equal(s.partialOccupancy, name.startsWith('disordered'));
    });
  }
});

describe('real structures: CIF and POSCAR files written by pymatgen', () => {
  for (const [fname, e] of Object.entries(expected.files)) {
    it(fname, () => {
      const text = read(fname);
      const s = fname.endsWith('.cif')
        ? parseCif(text)
        : parsePoscar(text, undefined, fname.includes('vasp4') ? { species: e.species_order! } : undefined);
      const ref = e.pymatgen_reads;
      const p = latticeParameters(s.lattice);
      assertClose(p.abc, ref.abc, 1e-6, `${fname} a,b,c`);
      assertClose(p.angles, ref.angles, 1e-5, `${fname} angles`);
      if (fname.endsWith('.cif')) assertClose(s.lattice.flat(), ref.lattice.flat(), 1e-6, `${fname} matrix (pymatgen orientation)`);
      if (e.pymatgen_reads_original) assertSameSites(s, ref.sites, 1e-4, `${fname} vs pymatgen`);
      else assert.ok(ref.sites.length > s.sites.length, 'pymatgen duplicates atoms of this nearly symmetric file');
      if (e.same_cell_as_original) assertSameSites(s, originalSites(e.structure), 1e-3, `${fname} vs original structure`);
      assert.equal(reducedFormula(structureComposition(s)), expected.structures[e.structure].reduced_formula);
      if (fname.includes('.sd.')) {
        assert.deepEqual(s.sites[0].properties?.selective_dynamics, [true, true, false]);
        assert.deepEqual(s.sites[1].properties?.selective_dynamics, [false, true, false]);
      }
    });
  }

  it('covers symmetry expansion: refined face-centred cell, hexagonal thirds, 312 sites, disorder', () => {
    const names = Object.keys(expected.files);
    for (const must of ['fcc_BaTe.conv.cif', 'hexagonal_Al5Rh2.sym.cif', 'large_Ca3PO42.sym.cif', 'disordered_Na0p5Li0p5Sb3Pt27p8.sym.cif']) {
      assert.ok(names.includes(must), must);
    }
    const conv = parseCif(read('fcc_BaTe.conv.cif'));
    assert.equal(conv.sites.length, 8);
    assert.ok((read('fcc_BaTe.conv.cif').match(/'[^']*x[^']*'/g) ?? []).length >= 192);
    assert.ok(parseCif(read('large_Ca3PO42.sym.cif')).sites.length === 312);
  });

  it('a nearly symmetric structure (symmetric to ~0.003 Å) comes back with its 7 atoms, where pymatgen reads 19', () => {
    const e = expected.files['approx_symmetric_K4CdP2.sym.cif'];
    assert.equal(e.pymatgen_reads_original, false);
    assert.equal(e.pymatgen_reads.sites.length, 19);
    assertSameSites(parseCif(read('approx_symmetric_K4CdP2.sym.cif')), originalSites('approx_symmetric_K4CdP2'), 2e-3, 'K4CdP2');
  });
});
