import { ChemError } from '../types.js';
import { det3, isFiniteMat, latticeFromParameters, norm, type Mat3, type Vec3 } from './lattice.js';

/*
 * What a unit cell must look like before anything is computed on it. Over the 13,534 task structures the lattice
 * vectors are 2.26–78.2 Å long, lattice planes at least 0.88 Å apart and V / (a·b·c) at least 0.026 (a rhombohedral
 * cell with α = 10°); the limits below sit far outside that, so only cells that make no physical sense (or that
 * would overflow the arithmetic downstream, as a = 1e308 did) are refused.
 */

/** Longest lattice vector accepted (Å): far above any crystal's cell, far below where volumes overflow. */
export const MAX_CELL_LENGTH = 1000;
/** Smallest lattice vector and distance between neighbouring lattice planes (Å); below it the cell is flat or absurdly skewed. */
export const MIN_PLANE_SPACING = 0.1;
/** Smallest V / (a·b·c), 1 for a rectangular cell; below it the three vectors are nearly coplanar. */
export const MIN_CELL_FLATNESS = 1e-4;

const AXES = ['a', 'b', 'c'] as const;

/** Where a cell came from, for messages: the format ("the CIF") and, where known, its line. */
export interface CellSource {
  where: string;
  /** A line to report when the problem concerns the cell as a whole (e.g. the first lattice line of a POSCAR). */
  line?: number;
}

function cellError(code: string, src: CellSource, message: string, line = src.line): ChemError {
  return new ChemError(code, `${src.where}${line ? ` line ${line}` : ''}: ${message}`, line);
}

/**
 * Refuses lattices that are not a physical cell: non-finite numbers, a vector shorter than MIN_PLANE_SPACING or longer than MAX_CELL_LENGTH,
 * three (nearly) coplanar vectors, or lattice planes closer than MIN_PLANE_SPACING. Codes: structure_non_finite,
 * structure_cell_too_large, structure_degenerate_lattice.
 */
export function checkCell(m: Mat3, src: CellSource): void {
  if (!isFiniteMat(m)) throw cellError('structure_non_finite', src, 'the lattice contains a number that is not finite');
  const lengths = m.map((v) => norm(v as Vec3)) as Vec3;
  lengths.forEach((len, k) => {
    if (!(len <= MAX_CELL_LENGTH)) {
      throw cellError('structure_cell_too_large', src, `lattice vector ${AXES[k]} is ${len.toPrecision(4)} Å long; at most ${MAX_CELL_LENGTH} Å is accepted`);
    }
    if (!(len >= MIN_PLANE_SPACING)) {
      throw cellError('structure_degenerate_lattice', src, `lattice vector ${AXES[k]} is only ${len.toPrecision(3)} Å long (at least ${MIN_PLANE_SPACING} Å is needed)`);
    }
  });
  const volume = Math.abs(det3(m));
  const flatness = volume / (lengths[0] * lengths[1] * lengths[2]);
  if (!(flatness >= MIN_CELL_FLATNESS)) {
    throw cellError(
      'structure_degenerate_lattice',
      src,
      `the cell volume is ${volume.toPrecision(3)} Å³, ${flatness.toPrecision(2)} of a·b·c: the lattice vectors are (nearly) in one plane`,
    );
  }
  const [a, b, c] = m;
  const spacings = [cross(b, c), cross(c, a), cross(a, b)].map((x) => volume / norm(x));
  const k = spacings.indexOf(Math.min(...spacings));
  if (!(spacings[k] >= MIN_PLANE_SPACING)) {
    throw cellError(
      'structure_degenerate_lattice',
      src,
      `lattice planes parallel to ${AXES[(k + 1) % 3]} and ${AXES[(k + 2) % 3]} are only ${spacings[k].toPrecision(2)} Å apart ` +
        `(at least ${MIN_PLANE_SPACING} Å is needed): the cell is too thin or too skewed; send a reduced (e.g. Niggli) cell`,
    );
  }
}

/**
 * A lattice matrix from a, b, c (Å) and α, β, γ (degrees), in pymatgen's orientation, with each parameter checked and
 * named (and its line given) when it is the problem; then checkCell. `lines[k]` is the line of parameter k, if any.
 */
export function cellFromParameters(params: readonly number[], names: readonly string[], src: CellSource, lines: readonly (number | undefined)[] = []): Mat3 {
  const [a, b, c, alpha, beta, gamma] = params;
  params.forEach((x, k) => {
    const bad = (code: string, why: string): ChemError => cellError(code, src, `${names[k]} is ${x}; ${why}`, lines[k] ?? src.line);
    if (!Number.isFinite(x)) throw bad('structure_non_finite', 'it must be a finite number');
    if (k < 3 && !(x > 0)) throw bad('structure_degenerate_lattice', 'cell lengths must be positive');
    if (k < 3 && x < MIN_PLANE_SPACING) throw bad('structure_degenerate_lattice', `at least ${MIN_PLANE_SPACING} Å is needed`);
    if (k < 3 && x > MAX_CELL_LENGTH) throw bad('structure_cell_too_large', `at most ${MAX_CELL_LENGTH} Å is accepted`);
    if (k >= 3 && !(x > 0 && x < 180)) throw bad('structure_bad_cell_angle', 'cell angles must lie strictly between 0 and 180 degrees');
  });
  const m = latticeFromParameters(a, b, c, alpha, beta, gamma);
  if (!m) {
    throw cellError(
      'structure_degenerate_lattice',
      src,
      `the angles α=${alpha}° β=${beta}° γ=${gamma}° cannot close a cell (each must be less than the sum of the other two, and all three less than 360°)`,
    );
  }
  checkCell(m, src);
  return m;
}

function cross(u: readonly number[], v: readonly number[]): Vec3 {
  return [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
}
