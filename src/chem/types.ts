import { UnprocessableError } from '../errors.js';

/** Element symbol → amount (atoms per formula unit as written; may be fractional). */
export type Composition = Record<string, number>;

/** One crystallographic site. `species` holds one or more (element, occupancy) pairs; disordered sites have several or occupancy < 1. */
export interface Site {
  species: { element: string; occu: number }[];
  /** Fractional coordinates, not wrapped into [0, 1). */
  frac: [number, number, number];
  label?: string;
  properties?: Record<string, unknown>;
}

/** Rows of `matrix` are the lattice vectors a, b, c in Å; cartesian = frac · matrix. */
export interface Structure {
  lattice: [[number, number, number], [number, number, number], [number, number, number]];
  sites: Site[];
  /** True when any site has more than one species or an occupancy below 1. */
  partialOccupancy: boolean;
  /** Non-fatal remarks from parsing (e.g. "CIF has 2 data blocks; the first was used"). */
  warnings: string[];
}

/**
 * Every user-input problem in src/chem is a ChemError: a stable machine `code`, a message a chemist understands,
 * and, where it makes sense, the character position (formulas) or line (files) of the problem.
 */
export class ChemError extends UnprocessableError {
  constructor(
    code: string,
    message: string,
    readonly position?: number,
  ) {
    super(code, message, position !== undefined ? { position } : {});
  }
}

/** Formula-specific parse failures: a ChemError whose code starts with `formula_` (or is input_invalid_character), with a position. */
export class ParseError extends ChemError {
  constructor(code: string, message: string, position?: number) {
    super(code, message, position);
  }
}
