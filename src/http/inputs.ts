import { Type } from 'typebox';
import { SPECIES_LIMITS } from '../chem/input.js';

/** One material as a user has it. Exactly one key; the chemistry module checks the content. */
export const MaterialInputSchema = Type.Object(
  {
    formula: Type.Optional(Type.String({ description: 'chemical formula, e.g. "Fe2O3", "Ca(OH)2", "CuSO4·5H2O", "Li0.5CoO2"' })),
    structure: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'pymatgen Structure.as_dict() JSON' })),
    cif: Type.Optional(Type.String({ description: 'CIF text (the first data block is used)' })),
    poscar: Type.Optional(Type.String({ description: 'VASP POSCAR/CONTCAR text; a VASP 4 file (no species line) needs "species" beside it' })),
    species: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: SPECIES_LIMITS.maxSymbolLength }), {
      minItems: 1,
      maxItems: SPECIES_LIMITS.maxBlocks,
      description: 'only with "poscar": the element of each atom block of a VASP 4 file, in POTCAR order, e.g. ["Ga", "As"]',
    })),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 2, description: 'exactly one of formula, structure, cif, poscar (poscar optionally with species)' },
);

export const NACL_STRUCTURE = {
  lattice: { matrix: [[0, 2.82, 2.82], [2.82, 0, 2.82], [2.82, 2.82, 0]] },
  sites: [
    { species: [{ element: 'Na', occu: 1 }], abc: [0, 0, 0] },
    { species: [{ element: 'Cl', occu: 1 }], abc: [0.5, 0.5, 0.5] },
  ],
};

export const InputsBody = Type.Object(
  { inputs: Type.Array(MaterialInputSchema, { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false, examples: [{ inputs: [{ structure: NACL_STRUCTURE }] }] },
);
