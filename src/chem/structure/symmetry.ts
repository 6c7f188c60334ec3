import { ChemError } from '../types.js';
import { inv3, vecMat, type Mat3, type Vec3 } from './lattice.js';

/** A symmetry operation on fractional coordinates: x' = R·x + t. */
export interface SymOp {
  rot: Mat3;
  trans: Vec3;
}

/** More distinct operations than any space group in any sensible setting (192 in F m -3 m, times supercell translations). */
export const MAX_SYMMETRY_OPERATIONS = 2048;

function badOp(text: string, line: number | undefined, why: string): ChemError {
  return new ChemError('cif_bad_symmetry_operation', `symmetry operation "${text.slice(0, 60)}"${line ? ` (line ${line})` : ''}: ${why}`, line);
}

const AXES: Readonly<Record<string, number>> = { x: 0, y: 1, z: 2 };

/** One component such as "-x+y", "1/2+z", "x-0.25", "+2x" → its row of R and its translation. */
function parseComponent(src: string, full: string, line: number | undefined): { row: Vec3; t: number } {
  const s = src.replace(/\s+/g, '').toLowerCase();
  if (s === '') throw badOp(full, line, 'a coordinate is empty');
  const row: Vec3 = [0, 0, 0];
  let t = 0;
  const term = /([+-]?)(\d+(?:\.\d*)?|\.\d+)?(?:\/(\d+(?:\.\d*)?))?(\*?)([xyz])?/y;
  let pos = 0;
  while (pos < s.length) {
    term.lastIndex = pos;
    const m = term.exec(s);
    if (!m || m[0] === '' || (m[1] === '' && pos > 0)) throw badOp(full, line, `cannot read "${s}"`);
    const [, sign, numStr, denStr, star, axis] = m;
    if (numStr === undefined && (denStr !== undefined || star !== '' || axis === undefined)) throw badOp(full, line, `cannot read "${s}"`);
    if (star !== '' && axis === undefined) throw badOp(full, line, `cannot read "${s}"`);
    let value = numStr === undefined ? 1 : Number(numStr);
    if (denStr !== undefined) {
      const den = Number(denStr);
      if (!(den > 0)) throw badOp(full, line, 'division by zero');
      value /= den;
    }
    if (sign === '-') value = -value;
    if (axis !== undefined) row[AXES[axis]] += value;
    else t += value;
    pos = term.lastIndex;
  }
  return { row, t };
}

/** Parses "x, y, z"-style operations ("-y, x-y, z+1/2", "1/2+X,1/2-Y,-Z"); the rotation part must be integral, det ±1. */
export function parseSymOp(text: string, line?: number): SymOp {
  if (text.length > 200) throw badOp(text, line, 'too long to be a symmetry operation');
  const comps = text.split(',');
  if (comps.length !== 3) throw badOp(text, line, 'needs three comma-separated coordinates');
  const parsed = comps.map((c) => parseComponent(c, text, line));
  const rot = parsed.map((p) => p.row) as Mat3;
  if (!rot.every((r) => r.every((x) => Number.isFinite(x) && Math.abs(x - Math.round(x)) < 1e-9))) {
    throw badOp(text, line, 'the coefficients of x, y, z must be whole numbers');
  }
  const d =
    rot[0][0] * (rot[1][1] * rot[2][2] - rot[1][2] * rot[2][1]) -
    rot[0][1] * (rot[1][0] * rot[2][2] - rot[1][2] * rot[2][0]) +
    rot[0][2] * (rot[1][0] * rot[2][1] - rot[1][1] * rot[2][0]);
  if (Math.abs(Math.abs(d) - 1) > 1e-9) throw badOp(text, line, `it is not a symmetry operation (determinant ${d})`);
  const trans = parsed.map((p) => p.t) as Vec3;
  if (!trans.every((x) => Number.isFinite(x))) throw badOp(text, line, 'the translation is not a finite number');
  return { rot, trans };
}

const wrap = (x: number): number => {
  const w = x - Math.floor(x);
  return w >= 1 - 1e-12 ? 0 : w;
};

/** Removes operations equal to an earlier one up to whole-cell translations. */
export function uniqueOps(ops: SymOp[]): SymOp[] {
  const seen = new Set<string>();
  const out: SymOp[] = [];
  for (const op of ops) {
    const key = [...op.rot.flat(), ...op.trans.map((t) => Math.round(wrap(t) * 1e6) % 1e6)].join(',');
    if (!seen.has(key)) {
      seen.add(key);
      out.push(op);
    }
  }
  return out;
}

export function applyOp(op: SymOp, f: Vec3): Vec3 {
  const r = op.rot;
  return [
    r[0][0] * f[0] + r[0][1] * f[1] + r[0][2] * f[2] + op.trans[0],
    r[1][0] * f[0] + r[1][1] * f[1] + r[1][2] * f[2] + op.trans[1],
    r[2][0] * f[0] + r[2][1] * f[1] + r[2][2] * f[2] + op.trans[2],
  ];
}

export function wrapFrac(f: Vec3): Vec3 {
  return [wrap(f[0]), wrap(f[1]), wrap(f[2])];
}

/**
 * Finds points of the cell within `tol` Å of a query under periodic boundary conditions, with a grid over fractional
 * space so a lookup touches a bounded number of cells, whatever the number of points.
 */
export class PeriodicPointIndex<T> {
  private readonly grid: Vec3;
  private readonly cells = new Map<number, { frac: Vec3; item: T }[]>();

  constructor(
    private readonly lattice: Mat3,
    private readonly tol: number,
  ) {
    // a displacement of length tol changes fractional coordinate i by at most tol · |column i of M⁻¹|
    const inv = inv3(lattice);
    this.grid = [0, 1, 2].map((i) => {
      const delta = tol * Math.hypot(inv[0][i], inv[1][i], inv[2][i]);
      return Math.max(1, Math.min(200, Math.floor(1 / delta)));
    }) as Vec3;
  }

  private cellIndex(f: Vec3, i: number): number {
    return Math.min(this.grid[i] - 1, Math.floor(wrap(f[i]) * this.grid[i]));
  }

  private key(i: number, j: number, k: number): number {
    const [g0, g1, g2] = this.grid;
    return ((((i % g0) + g0) % g0) * g1 + (((j % g1) + g1) % g1)) * g2 + (((k % g2) + g2) % g2);
  }

  /** Distance in Å from a to the nearest periodic image of b (the image nearest in fractional terms). */
  distance(a: Vec3, b: Vec3): number {
    const d: Vec3 = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    for (let i = 0; i < 3; i++) d[i] -= Math.round(d[i]);
    const c = vecMat(d, this.lattice);
    return Math.hypot(c[0], c[1], c[2]);
  }

  add(frac: Vec3, item: T): void {
    const key = this.key(this.cellIndex(frac, 0), this.cellIndex(frac, 1), this.cellIndex(frac, 2));
    const list = this.cells.get(key);
    if (list) list.push({ frac, item });
    else this.cells.set(key, [{ frac, item }]);
  }

  /** Items within tol of `frac`, nearest first. */
  near(frac: Vec3): { item: T; distance: number }[] {
    const [ci, cj, ck] = [0, 1, 2].map((i) => this.cellIndex(frac, i));
    const keys: number[] = [];
    for (let dx = -1; dx <= 1; dx++)
      for (let dy = -1; dy <= 1; dy++)
        for (let dz = -1; dz <= 1; dz++) {
          const key = this.key(ci + dx, cj + dy, ck + dz);
          if (!keys.includes(key)) keys.push(key); // small grids wrap onto the same cell
        }
    const out: { item: T; distance: number }[] = [];
    for (const key of keys) {
      const list = this.cells.get(key);
      if (!list) continue;
      for (const p of list) {
        const distance = this.distance(frac, p.frac);
        if (distance < this.tol) out.push({ item: p.item, distance });
      }
    }
    return out.length > 1 ? out.sort((a, b) => a.distance - b.distance) : out;
  }
}
