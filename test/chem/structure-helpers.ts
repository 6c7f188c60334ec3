import assert from 'node:assert/strict';
import { latticeParameters, type Mat3 } from '../../src/chem/structure/index.js';
import { ChemError, type Structure } from '../../src/chem/types.js';

/** A site as the tests compare it: species → occupancy and fractional coordinates. */
export interface RefSite {
  species: [string, number][];
  abc: number[];
}

function speciesKey(species: [string, number][]): string {
  return species
    .map(([el, occ]) => `${el}:${occ.toFixed(4)}`)
    .sort()
    .join(',');
}

/**
 * Asserts that two site lists are the same up to order and whole-cell translations: every reference site has a
 * distinct parsed site with the same species and occupancies within `tolFrac` in each fractional coordinate.
 */
export function assertSameSites(actual: Structure, expected: RefSite[], tolFrac: number, what: string): void {
  assert.equal(actual.sites.length, expected.length, `${what}: number of sites`);
  const used = new Set<number>();
  for (const ref of expected) {
    const key = speciesKey(ref.species);
    const j = actual.sites.findIndex((s, idx) => {
      if (used.has(idx) || speciesKey(s.species.map((sp) => [sp.element, sp.occu])) !== key) return false;
      return s.frac.every((x, k) => {
        const d = x - ref.abc[k];
        return Math.abs(d - Math.round(d)) < tolFrac;
      });
    });
    assert.ok(j >= 0, `${what}: no parsed site matches ${key} at ${ref.abc.map((x) => x.toFixed(5)).join(' ')}`);
    used.add(j);
  }
}

export function assertClose(actual: number[], expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((x, i) => assert.ok(Math.abs(x - expected[i]) <= tol, `${what}[${i}]: ${x} vs ${expected[i]}`));
}

/** Runs fn and returns the ChemError it throws (failing on success or on any other exception). */
export function chemError(fn: () => unknown): ChemError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ChemError, `expected a ChemError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return e;
  }
  assert.fail('expected a ChemError, but parsing succeeded');
}

/** For fuzzing: the call either returns a structure or throws a ChemError whose code is one of the known families. */
export function onlyChemErrors(fn: () => Structure): void {
  try {
    const s = fn();
    assert.ok(s.sites.length > 0);
    assert.ok(s.sites.every((site) => site.frac.every(Number.isFinite)));
  } catch (e) {
    if (!(e instanceof ChemError)) throw e;
    assert.match(e.code, /^((structure|cif|poscar|input)_[a-z_]+|sites_overlap)$/);
    assert.ok(e.message.length > 5);
  }
}

/** A structure as the task files hold it (pymatgen's as_dict, reduced to what the writers below need). */
export interface TaskStructure {
  lattice: { matrix: Mat3 };
  sites: { species: { element: string; occu: number }[]; abc: [number, number, number]; label?: string }[];
}

/** A P1 CIF of a task structure (cell from its parameters, so in pymatgen's orientation; distances are the same). */
export function toCif(s: TaskStructure): string {
  const { abc, angles } = latticeParameters(s.lattice.matrix);
  const cell = ['a', 'b', 'c'].map((k, i) => `_cell_length_${k} ${abc[i]}`).concat(['alpha', 'beta', 'gamma'].map((k, i) => `_cell_angle_${k} ${angles[i]}`));
  const rows = s.sites.map((site, i) => `${site.species[0].element}${i + 1} ${site.species[0].element} ${site.abc.join(' ')} ${site.species[0].occu}`);
  return ['data_task', "_symmetry_space_group_name_H-M 'P 1'", ...cell, 'loop_', '_atom_site_label', '_atom_site_type_symbol',
    '_atom_site_fract_x', '_atom_site_fract_y', '_atom_site_fract_z', '_atom_site_occupancy', ...rows, ''].join('\n');
}

/** A VASP 5 POSCAR (direct coordinates) of an ordered task structure, species in blocks. */
export function toPoscar(s: TaskStructure): string {
  const order = [...new Set(s.sites.map((x) => x.species[0].element))];
  const blocks = order.map((el) => s.sites.filter((x) => x.species[0].element === el));
  return ['task', '1.0', ...s.lattice.matrix.map((r) => r.join(' ')), order.join(' '), blocks.map((b) => b.length).join(' '), 'Direct',
    ...blocks.flat().map((x) => x.abc.join(' ')), ''].join('\n');
}
