import { atomicFractions, structureComposition } from './composition.js';
import { parseFormula, reducedFormula } from './formula.js';
import { refuseBadValue } from './input-guard.js';
import { parseStructureInput, type StructureLimits } from './structure/index.js';
import type { MaterialInput } from './input-schema.js';
import { ChemError, type Composition, type Structure } from './types.js';

export type { MaterialInput } from './input-schema.js';
export type InputKind = 'formula' | 'structure' | 'cif' | 'poscar';

export interface ResolvedInput {
  kind: InputKind;
  /** Reduced formula in pymatgen's convention. */
  formula: string;
  /** Atomic fractions. */
  composition: Composition;
  /** Present for structure, CIF and POSCAR inputs. */
  structure?: Structure;
  warnings: string[];
}

export { SPECIES_LIMITS } from './input-schema.js';

export const INPUT_KINDS: readonly InputKind[] = ['formula', 'structure', 'cif', 'poscar'];

export function inputKind(input: object): InputKind {
  const keys = INPUT_KINDS.filter((k) => k in input);
  if (keys.length !== 1) {
    throw new ChemError('input_kind', keys.length === 0
      ? 'each input needs one of "formula", "structure" (pymatgen Structure.as_dict()), "cif" or "poscar"'
      : `each input takes exactly one of "formula", "structure", "cif" or "poscar", not ${keys.map((k) => `"${k}"`).join(' and ')}`);
  }
  return keys[0];
}

/**
 * Parses one user input into its reduced formula, atomic fractions and, for structure inputs, the structure. Every
 * problem is a ChemError; the whole input (any key, any string, at any depth) is first checked for NUL characters
 * (input_invalid_character) and runaway nesting (input_too_deep), so neither reaches a parser or the database.
 */
export function resolveInput(input: MaterialInput, limits?: Partial<StructureLimits>): ResolvedInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ChemError('input_kind', 'each input must be an object with one of "formula", "structure", "cif" or "poscar"');
  }
  refuseBadValue(input, 'the input');
  const kind = inputKind(input);
  if ('species' in input && input.species !== undefined && kind !== 'poscar') {
    throw new ChemError('species_without_poscar', `"species" lists the elements of a VASP 4 POSCAR's atom blocks and goes only with "poscar", not with "${kind}"`);
  }
  if (kind === 'formula') {
    const raw = (input as { formula: unknown }).formula;
    if (typeof raw !== 'string') throw new ChemError('formula_not_string', '"formula" must be a string such as "Fe2O3"');
    const parsed = parseFormula(raw);
    return { kind, formula: parsed.reducedFormula, composition: parsed.fractions, warnings: [] };
  }
  const structure = parseStructureInput(input as { structure?: unknown; cif?: string; poscar?: string; species?: string[] }, limits);
  const amounts = structureComposition(structure);
  return { kind, formula: reducedFormula(amounts), composition: atomicFractions(amounts), structure, warnings: [...structure.warnings] };
}
