import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { structureComposition } from '../../src/chem/composition.js';
import { latticeParameters, parseCif, parseStructureInput } from '../../src/chem/structure/index.js';
import { assertClose, assertSameSites, chemError, onlyChemErrors } from './structure-helpers.js';

// Wurtzite ZnO, P6_3mc (186), coordinates written to 4 decimals as in many published CIFs. Expected: 2 Zn at
// (1/3, 2/3, 0), (2/3, 1/3, 1/2) and 2 O at (1/3, 2/3, u), (2/3, 1/3, u + 1/2), u = 0.3821.
const WURTZITE = `# ZnO
data_ZnO
_cell_length_a    3.2495(5)
_cell_length_b    3.2495(5)
_cell_length_c    5.2069(9)
_cell_angle_alpha 90
_cell_angle_beta  90
_cell_angle_gamma 120.0
_symmetry_space_group_name_H-M 'P 63 m c'
loop_
_symmetry_equiv_pos_as_xyz
  'x, y, z'  '-y, x-y, z'  '-x+y, -x, z'  '-x, -y, z+1/2'  'y, -x+y, z+1/2'  'x-y, x, z+1/2'
  '-y, -x, z'  '-x+y, y, z'  'x, x-y, z'  'y, x, z+1/2'  'x-y, -y, z+1/2'  '-x, -x+y, z+1/2'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Zn1 Zn2+ 0.3333 0.6667 0.0 1.0
O1  O2-  0.3333 0.6667 0.3821(3) 1
`;
const WURTZITE_SITES: { species: [string, number][]; abc: number[] }[] = [
  { species: [['Zn', 1]], abc: [1 / 3, 2 / 3, 0] },
  { species: [['Zn', 1]], abc: [2 / 3, 1 / 3, 0.5] },
  { species: [['O', 1]], abc: [1 / 3, 2 / 3, 0.3821] },
  { species: [['O', 1]], abc: [2 / 3, 1 / 3, 0.8821] },
];

// Rock salt NaCl in the conventional cell with the 4 face-centring translations only (a valid listing of a subgroup).
const ROCKSALT_FC = (extraAtoms = '', ops = `'x, y, z' 'x, y+1/2, z+1/2' 'x+1/2, y, z+1/2' 'x+1/2, y+1/2, z'`): string => `data_NaCl
_cell_length_a 5.64
_cell_length_b 5.64
_cell_length_c 5.64
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_space_group_symop_operation_xyz
${ops}
loop_
_atom_site_label
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Na1 0 0 0
Cl1 0.5 0.5 0.5
${extraAtoms}`;

describe('parseCif: the tricky parts', () => {
  it('hexagonal cell, uncertainties, Zn2+/O2- type symbols, 0.3333 snapped to 1/3, images de-duplicated', () => {
    const s = parseCif(WURTZITE);
    const p = latticeParameters(s.lattice);
    assertClose(p.abc, [3.2495, 3.2495, 5.2069], 1e-9, 'abc');
    assertClose(p.angles, [90, 90, 120], 1e-9, 'angles');
    assertSameSites(s, WURTZITE_SITES, 1e-9, 'wurtzite');
    assert.equal(s.partialOccupancy, false);
    // pymatgen's orientation: c along z
    assertClose(s.lattice[2], [0, 0, 5.2069], 1e-12, 'c vector');
  });

  it('labels only (O2 is oxygen, not O×2), _space_group_symop_operation_xyz, face-centring translations', () => {
    const s = parseCif(ROCKSALT_FC());
    assert.equal(s.sites.length, 8);
    assert.deepEqual(structureComposition(s), { Na: 4, Cl: 4 });
    const labelled = parseCif(ROCKSALT_FC().replace('Cl1 0.5', 'Cl2 0.5').replace('Na1 0 0 0', 'Na2 0 0 0'));
    assert.deepEqual(structureComposition(labelled), { Na: 4, Cl: 4 });
  });

  it('DDLm tag spellings (_atom_site.fract_x, _space_group_symop.operation_xyz) and upper-case X, Y, Z', () => {
    const text = ROCKSALT_FC()
      .replace(/_atom_site_/g, '_atom_site.')
      .replace('_space_group_symop_operation_xyz', '_space_group_symop.operation_xyz')
      .replace(/'x([^']*)'/g, (m) => m.toUpperCase());
    assert.equal(parseCif(text).sites.length, 8);
  });

  it('the full Fm-3m listing (192 operations, written by pymatgen) gives the same 8 sites', () => {
    const conv = readFileSync(new URL('../data/chem/structures/fcc_BaTe.conv.cif', import.meta.url), 'utf8');
    const ops = conv.match(/'[^']*'/g)!.filter((o) => /[xyz]/.test(o));
    assert.equal(ops.length, 192);
    const s = parseCif(ROCKSALT_FC('', ops.join('\n')));
    assertSameSites(
      s,
      [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]].flatMap((f) => [
        { species: [['Na', 1]] as [string, number][], abc: f },
        { species: [['Cl', 1]] as [string, number][], abc: f.map((x) => (x + 0.5) % 1) },
      ]),
      1e-9,
      'rock salt',
    );
  });

  it('rows at one position merge into one disordered site; partial occupancy is flagged', () => {
    const text = ROCKSALT_FC().replace(/_atom_site_fract_z\n/, '_atom_site_fract_z\n_atom_site_occupancy\n')
      .replace('Na1 0 0 0', 'Na1 0 0 0 0.75\nK1 0 0 0 0.25')
      .replace('Cl1 0.5 0.5 0.5', 'Cl1 0.5 0.5 0.5 0.9');
    const s = parseCif(text);
    assert.equal(s.sites.length, 8);
    assert.equal(s.partialOccupancy, true);
    const mixed = s.sites.filter((x) => x.species.length === 2);
    assert.equal(mixed.length, 4);
    assert.deepEqual(mixed[0].species, [{ element: 'Na', occu: 0.75 }, { element: 'K', occu: 0.25 }]);
    const comp = structureComposition(s);
    assertClose([comp.Na, comp.K, comp.Cl], [3, 1, 3.6], 1e-12, 'composition');
  });

  it('several data blocks: the first with atoms is used, and a warning says so', () => {
    const text = `data_global\n_journal_name_full 'Some Journal'\n\n${WURTZITE}\n${ROCKSALT_FC()}`;
    const s = parseCif(text);
    assert.equal(s.sites.length, 4);
    assert.match(s.warnings.join(' '), /3 data blocks.*data_ZnO/);
  });

  it('comments, text fields, quotes with embedded apostrophes, CRLF line ends', () => {
    const text = `data_x  # a comment
_publ_section_title
;
 A title; with 'quotes' and _tags_ inside
;
_chemical_name_common 'Bob's salt'
${ROCKSALT_FC().split('\n').slice(1).join('\n')}`.replace(/\n/g, '\r\n');
    assert.equal(parseCif(text).sites.length, 8);
  });

  it('P1 without operations is read as listed; no space group at all gives a warning', () => {
    const p1 = ROCKSALT_FC().replace(/loop_\n_space_group_symop_operation_xyz\n[^\n]*\n/, '_symmetry_space_group_name_H-M \'P 1\'\n');
    const s = parseCif(p1);
    assert.equal(s.sites.length, 2);
    assert.deepEqual(s.warnings, []);
    const none = parseCif(ROCKSALT_FC().replace(/loop_\n_space_group_symop_operation_xyz\n[^\n]*\n/, ''));
    assert.equal(none.sites.length, 2);
    assert.match(none.warnings.join(' '), /no symmetry operations/);
  });

  it('deuterium is read as hydrogen with a warning', () => {
    const text = ROCKSALT_FC().replace(/_atom_site_fract_z\n/, '_atom_site_fract_z\n_atom_site_occupancy\n')
      .replace('Na1 0 0 0', 'Na1 0 0 0 1\nD1 0.25 0.25 0.25 0.5')
      .replace('Cl1 0.5 0.5 0.5', 'Cl1 0.5 0.5 0.5 1');
    const s = parseCif(text);
    assert.deepEqual(structureComposition(s), { Na: 4, H: 2, Cl: 4 });
    assert.match(s.warnings.join(' '), /D1.*hydrogen/);
  });
});

describe('parseCif: errors', () => {
  const cases: [string, string, string][] = [
    ['empty', '', 'cif_no_data_block'],
    ['only a comment', '# nothing\n', 'cif_no_data_block'],
    ['unterminated quote', "data_x\n_cell_length_a '5.0\n", 'cif_syntax'],
    ['unterminated text field', 'data_x\n_title\n;\nforever', 'cif_syntax'],
    ['tag without value', 'data_x\n_cell_length_a\n_cell_length_b 5', 'cif_syntax'],
    ['loop values not a multiple of tags', 'data_x\nloop_\n_a\n_b\n1 2 3\n', 'cif_syntax'],
    ['missing cell angle', ROCKSALT_FC().replace('_cell_angle_beta 90\n', ''), 'cif_missing_cell'],
    ['cell length not a number', ROCKSALT_FC().replace('_cell_length_a 5.64', '_cell_length_a five'), 'cif_bad_number'],
    ['impossible angles', ROCKSALT_FC().replace('_cell_angle_alpha 90', '_cell_angle_alpha 10').replace('_cell_angle_beta 90', '_cell_angle_beta 10'), 'structure_degenerate_lattice'],
    ['zero length', ROCKSALT_FC().replace('_cell_length_a 5.64', '_cell_length_a 0'), 'structure_degenerate_lattice'],
    ['no atom sites', ROCKSALT_FC().replace(/loop_\n_atom_site_label[\s\S]*$/, ''), 'cif_missing_atom_sites'],
    ['Cartesian only', ROCKSALT_FC().replace(/_atom_site_fract_/g, '_atom_site_Cartn_'), 'cif_missing_atom_sites'],
    ['coordinate "?"', ROCKSALT_FC().replace('Na1 0 0 0', 'Na1 0 ? 0'), 'cif_bad_number'],
    ['coordinate text', ROCKSALT_FC().replace('Na1 0 0 0', 'Na1 0 zero 0'), 'cif_bad_number'],
    ['unknown element', ROCKSALT_FC().replace('Na1 0 0 0', 'Qq1 0 0 0'), 'structure_unknown_element'],
    ['bad operation', ROCKSALT_FC().replace("'x, y+1/2, z+1/2'", "'x, y+1/2'"), 'cif_bad_symmetry_operation'],
    ['operation with w', ROCKSALT_FC().replace("'x, y+1/2, z+1/2'", "'x, w, z'"), 'cif_bad_symmetry_operation'],
    ['operation not invertible', ROCKSALT_FC().replace("'x, y+1/2, z+1/2'", "'x, x, z'"), 'cif_bad_symmetry_operation'],
    ['space group without operations', ROCKSALT_FC().replace(/loop_\n_space_group_symop_operation_xyz\n[^\n]*\n/, "_symmetry_space_group_name_H-M 'F m -3 m'\n"), 'cif_missing_symmetry_operations'],
    ['occupancy above 1', ROCKSALT_FC().replace(/_atom_site_fract_z\n/, '_atom_site_fract_z\n_atom_site_occupancy\n').replace('Na1 0 0 0', 'Na1 0 0 0 1.5').replace('Cl1 0.5 0.5 0.5', 'Cl1 0.5 0.5 0.5 1'), 'structure_bad_occupancy'],
    ['two full atoms on one site', ROCKSALT_FC('K1 0 0 0\n'), 'cif_overlapping_atoms'],
    ['two full atoms 0.01 Å apart', ROCKSALT_FC('K1 0.5 0.5 0.5018\n'), 'cif_overlapping_atoms'],
  ];
  for (const [what, text, code] of cases) {
    it(`${what} → ${code}`, () => {
      const e = chemError(() => parseCif(text));
      assert.equal(e.code, code, e.message);
    });
  }

  it('errors in files carry the line number', () => {
    const e = chemError(() => parseCif(ROCKSALT_FC().replace('Na1 0 0 0', 'Qq1 0 0 0')));
    assert.equal(e.position, ROCKSALT_FC().split('\n').findIndex((l) => l.startsWith('Na1')) + 1);
    assert.match(e.message, /line \d+/);
  });
});

describe('parseCif: limits apply during symmetry expansion', () => {
  const conv = readFileSync(new URL('../data/chem/structures/fcc_BaTe.conv.cif', import.meta.url), 'utf8');
  const fm3m = conv.match(/'[^']*'/g)!.filter((o) => /[xyz]/.test(o)).join('\n');
  // atoms in general positions (on no symmetry element), far enough apart (> 0.05 Å) to stay distinct
  const general = (n: number): string =>
    Array.from({ length: n }, (_, i) => `O${i} ${(0.021 + 0.011 * (i % 20)).toFixed(4)} ${(0.127 + 0.013 * Math.floor(i / 20) % 0.3).toFixed(4)} 0.2377`).join('\n');

  it('3 atoms in general positions × 192 operations = 576 sites: over 500 by default, fine with maxSites 1000', () => {
    // a 60 Å cell keeps the 576 images at least 0.5 Å apart (in 5.64 Å some would be 0.06 Å apart: sites_overlap)
    const text = ROCKSALT_FC(general(3), fm3m).replace(/_cell_length_(a|b|c) 5\.64/g, '_cell_length_$1 60');
    const e = chemError(() => parseCif(text));
    assert.equal(e.code, 'structure_too_many_sites');
    assert.match(e.message, /192 symmetry operations/);
    assert.equal(parseCif(text, { maxSites: 1000 }).sites.length, 8 + 576);
  });

  it('a huge expansion is refused (1990 rows × 192 operations)', () => {
    const text = ROCKSALT_FC(general(1990), fm3m);
    assert.equal(chemError(() => parseCif(text)).code, 'structure_too_many_sites');
    assert.equal(chemError(() => parseCif(ROCKSALT_FC(general(2100), fm3m))).code, 'structure_too_many_sites');
  });

  it('pathological text is rejected (long digit runs, one huge line, many quotes)', () => {
    const digits = '1'.repeat(200_000) + 'x';
    assert.equal(chemError(() => parseCif(ROCKSALT_FC().replace('_cell_length_a 5.64', `_cell_length_a ${digits}`))).code, 'cif_bad_number');
    assert.equal(chemError(() => parseCif(`data_x\n_a ${"'a".repeat(100_000)}`)).code, 'cif_syntax');
    assert.equal(chemError(() => parseCif(`data_x\n${'_t v '.repeat(100_000)}`)).code, 'cif_missing_cell');
    assert.equal(chemError(() => parseCif('x'.repeat(5_000_001))).code, 'structure_too_large');
  });

  it('through parseStructureInput with limits', () => {
    assert.equal(parseStructureInput({ cif: ROCKSALT_FC() }, { maxSites: 8 }).sites.length, 8);
    assert.equal(chemError(() => parseStructureInput({ cif: ROCKSALT_FC() }, { maxSites: 7 })).code, 'structure_too_many_sites');
  });
});

describe('parseCif: fuzzing', () => {
  it('random text only ever gives a structure or a ChemError', () => {
    const cifish = fc.constantFrom('data_a', 'loop_', '_cell_length_a', '_cell_angle_gamma', '_atom_site_fract_x', '_atom_site_label', "'x, y, z'", ';', '?', '.', '5.0(3)', '0.5', '-x+1/2', 'Fe2+', 'O1', '#', '\n', ' ', '"', "'", 'save_', '_symmetry_equiv_pos_as_xyz');
    const texts = fc.oneof(fc.string({ maxLength: 400 }), fc.array(cifish, { maxLength: 80 }).map((t) => t.join(' ')));
    fc.assert(fc.property(texts, (t) => onlyChemErrors(() => parseCif(t))), { numRuns: 800 });
  });

  it('random edits of a valid CIF only ever give a structure or a ChemError', () => {
    const edit = fc.tuple(fc.nat(WURTZITE.length), fc.nat(20), fc.string({ maxLength: 8 }));
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let t = WURTZITE;
        for (const [at, del, ins] of edits) t = t.slice(0, at) + ins + t.slice(at + del);
        onlyChemErrors(() => parseCif(t));
      }),
      { numRuns: 800 },
    );
  });
});
