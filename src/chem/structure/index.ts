import { ChemError, type Structure } from '../types.js';
import type { StructureLimits } from './limits.js';
import { parseCif } from './cif.js';
import { parsePoscar } from './poscar.js';
import { parsePymatgenStructure } from './pymatgen.js';

export { parseCif, CIF_SITE_TOLERANCE } from './cif.js';
export { parsePoscar, type PoscarOptions } from './poscar.js';
export { parsePymatgenStructure } from './pymatgen.js';
export { DEFAULT_STRUCTURE_LIMITS, MAX_STRUCTURE_TEXT_LENGTH, type StructureLimits } from './limits.js';
export { latticeParameters, latticeFromParameters, type Mat3, type Vec3 } from './lattice.js';

export interface StructureInput {
  /** pymatgen `Structure.as_dict()` (object or JSON text). */
  structure?: unknown;
  cif?: string;
  poscar?: string;
  /** Elements of a VASP 4 POSCAR's species blocks (it has no species line). */
  species?: string[];
}

/**
 * Parses whichever one of `structure` (pymatgen JSON), `cif` or `poscar` is given. All problems are ChemErrors with
 * stable codes: structure_invalid, structure_empty, structure_unknown_element, structure_bad_occupancy,
 * structure_too_many_sites, structure_too_large, structure_degenerate_lattice, structure_cell_too_large,
 * structure_bad_cell_angle, structure_non_finite, structure_coordinate_out_of_range, structure_amount_too_small,
 * sites_overlap, input_invalid_character, input_too_deep, cif_*, poscar_*.
 */
export function parseStructureInput(input: StructureInput, limits?: Partial<StructureLimits>): Structure {
  if (typeof input !== 'object' || input === null) throw new ChemError('structure_invalid', 'expected an object with one of "structure", "cif" or "poscar"');
  const given = (['structure', 'cif', 'poscar'] as const).filter((k) => input[k] !== undefined && input[k] !== null);
  if (given.length !== 1) {
    throw new ChemError(
      'structure_invalid',
      given.length === 0
        ? 'no structure given: send one of "structure" (pymatgen Structure.as_dict()), "cif" or "poscar"'
        : `send only one of "structure", "cif" or "poscar", not ${given.join(' and ')}`,
    );
  }
  const kind = given[0];
  if (kind === 'structure') return parsePymatgenStructure(input.structure, limits);
  const text: unknown = input[kind];
  if (typeof text !== 'string') throw new ChemError('structure_invalid', `"${kind}" must be the file's text`);
  if (kind === 'cif') return parseCif(text, limits);
  // anything given as "species" goes to the parser, which refuses what is not a list of symbols
  return parsePoscar(text, limits, input.species !== undefined && input.species !== null ? { species: input.species } : undefined);
}
