/**
 * CGCNN's 92-d atom features (`atom_init.json` of CGCNN, shipped at assets/elements/cgcnn_atom_init.json),
 * keyed by atomic number. Elements past Z = 100 have no row: a structure holding one cannot be featurised.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ASSETS_DIR } from '../../paths.js';
import { ChemError } from '../../chem/types.js';
import { ELEMENT_SYMBOLS } from '../../chem/elements.js';

export const ATOM_FEATURE_LENGTH = 92;
/** Identifies the atom-feature table stored with checkpoints. */
export const ATOM_FEATURES_VERSION = 'cgcnn-atom-init-92';

let table: Float32Array | null = null;
let maxZ = 0;

function load(): Float32Array {
  if (table) return table;
  const raw = JSON.parse(readFileSync(join(ASSETS_DIR, 'elements', 'cgcnn_atom_init.json'), 'utf8')) as Record<string, number[]>;
  const zs = Object.keys(raw).map(Number);
  maxZ = Math.max(...zs);
  const t = new Float32Array((maxZ + 1) * ATOM_FEATURE_LENGTH).fill(Number.NaN);
  for (const [key, vec] of Object.entries(raw)) {
    if (vec.length !== ATOM_FEATURE_LENGTH) throw new Error(`atom features for Z=${key} have ${vec.length} values, not ${ATOM_FEATURE_LENGTH}`);
    t.set(vec, Number(key) * ATOM_FEATURE_LENGTH);
  }
  table = t;
  return t;
}

export function hasAtomFeatures(z: number): boolean {
  const t = load();
  return Number.isInteger(z) && z >= 1 && z <= maxZ && !Number.isNaN(t[z * ATOM_FEATURE_LENGTH]);
}

/** Writes the features of `z` at `out[offset ...]`. */
export function writeAtomFeatures(z: number, out: Float32Array, offset: number): void {
  const t = load();
  if (!hasAtomFeatures(z)) {
    throw new ChemError('element_unsupported', `CGCNN has no atom features for ${ELEMENT_SYMBOLS[z] ?? `Z=${z}`} (only Z = 1-${maxZ})`);
  }
  out.set(t.subarray(z * ATOM_FEATURE_LENGTH, (z + 1) * ATOM_FEATURE_LENGTH), offset);
}
