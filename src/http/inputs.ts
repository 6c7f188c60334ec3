import { Type } from 'typebox';
import { MaterialInputSchema } from '../chem/input-schema.js';

/** Bytes of a prediction request: 1000 inputs of a few kB (CIF, POSCAR); larger screens go through batch-prediction jobs. */
export const PREDICT_BODY_LIMIT = 8 * 1024 * 1024;

/** 1 to 1000 materials, answered in input order. */
export const InputsArray = Type.Array(MaterialInputSchema, { minItems: 1, maxItems: 1000 });

export const NACL_STRUCTURE = {
  lattice: { matrix: [[0, 2.82, 2.82], [2.82, 0, 2.82], [2.82, 2.82, 0]] },
  sites: [
    { species: [{ element: 'Na', occu: 1 }], abc: [0, 0, 0] },
    { species: [{ element: 'Cl', occu: 1 }], abc: [0.5, 0.5, 0.5] },
  ],
};

export const InputsBody = Type.Object({ inputs: InputsArray }, { additionalProperties: false, examples: [{ inputs: [{ structure: NACL_STRUCTURE }] }] });
