/**
 * One material as a user has it, defined once: exactly one of a formula, a pymatgen Structure.as_dict(), a CIF or a
 * POSCAR (a VASP 4 POSCAR with `species` beside it). The HTTP schemas use this; `MaterialInput` is its static type, and
 * src/chem checks the content (input.ts: resolveInput).
 */
import { Type, type Static } from 'typebox';

/** Bounds of a VASP 4 POSCAR's `species` list beside the file: atom blocks, and characters per symbol. */
export const SPECIES_LIMITS = { maxBlocks: 128, maxSymbolLength: 16 } as const;

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

export type MaterialInput = Static<typeof MaterialInputSchema>;
