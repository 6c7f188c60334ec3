import { ChemError, type Structure } from './types.js';

/** pymatgen's `numerical_tol`: a neighbour at r + 1e-8 counts as inside r. */
export const NUMERICAL_TOL = 1e-8;
/** Keeps rounding in the bin bounds from dropping a bin that touches the sphere; the exact distance test decides. */
const BOUND_SLACK = 1e-9;
/** Beyond this many lattice-plane spacings inside the cutoff the cell is not a crystal we can reason about. */
const MAX_PLANES_IN_RADIUS = 2000;
/**
 * Most steps (layers, rows and bins visited, distances evaluated) one PeriodicSearch may take. Real cells need far fewer: the largest
 * task structure (312 sites) needs about 2e5 for a full radius-8 search around every site. The cap turns a
 * pathological cell (nearly flat, or skewed far beyond any reduced cell, with few atoms) into a ChemError instead of
 * a request that runs for minutes.
 */
export const MAX_SEARCH_STEPS = 100_000_000;

/**
 * Sites of a periodic structure binned for searches within a fixed cutoff, as CGCNN's neighbour graph and the
 * overlap check need them.
 *
 * The lattice is rotated to a lower-triangular frame (a on x, b in the xy plane), sites are wrapped into the cell
 * (distances to all periodic images do not change) and binned on a grid of sub-cells whose widths follow the
 * lattice-plane spacings. A search visits bins (with their periodic images) nearest-first, pruning each lattice
 * direction with interval bounds in that frame: this stays exact for strongly skewed cells and for cells far smaller
 * than the cutoff. Memory is linear in the number of sites whatever the cell; work is capped by MAX_SEARCH_STEPS.
 */
export class PeriodicSearch {
  readonly n: number;
  private readonly frame: TriangularFrame;
  private readonly ma: number;
  private readonly mb: number;
  private readonly mc: number;
  private readonly fc: Float64Array;
  private readonly px: Float64Array;
  private readonly py: Float64Array;
  private readonly pz: Float64Array;
  private readonly binStart: Int32Array;
  private readonly binAtoms: Int32Array;
  private readonly maxSteps: number;
  private steps = 0;

  /**
   * @param radius the largest cutoff searches will use (Å); cells far thinner than it are refused.
   * @param binWidth target edge of a bin in Å; a tuning knob (and a test hook), not part of any result.
   */
  constructor(s: Structure, radius: number, binWidth?: number, maxSteps = MAX_SEARCH_STEPS) {
    const n = s.sites.length;
    this.n = n;
    this.maxSteps = maxSteps;
    const frame = triangularFrame(s.lattice, radius);
    this.frame = frame;
    const { a1, b1, b2, c1, c2, c3 } = frame;

    // Bins: m_k sub-cells along lattice direction k, each at least `w` thick measured between lattice planes.
    let w = binWidth ?? Math.max(4, Math.cbrt((8 * frame.volume) / Math.max(n, 1)));
    if (!(w > 0) || !Number.isFinite(w)) throw new RangeError(`binWidth must be a positive number of Å (got ${w})`);
    let ma: number, mb: number, mc: number;
    for (;;) {
      ma = Math.max(1, Math.floor(frame.spacingA / w));
      mb = Math.max(1, Math.floor(frame.spacingB / w));
      mc = Math.max(1, Math.floor(frame.spacingC / w));
      if (ma * mb * mc <= 4 * n + 64) break; // memory stays linear in sites whatever binWidth asks for
      w *= 1.25;
    }
    this.ma = ma;
    this.mb = mb;
    this.mc = mc;
    const nBins = ma * mb * mc;

    this.fc = new Float64Array(n);
    this.px = new Float64Array(n);
    this.py = new Float64Array(n);
    this.pz = new Float64Array(n);
    const binOf = new Int32Array(n);
    const binStart = new Int32Array(nBins + 1);
    for (let i = 0; i < n; i++) {
      const f = s.sites[i].frac;
      const x = wrap01(f[0]);
      const y = wrap01(f[1]);
      const z = wrap01(f[2]);
      if (Number.isNaN(x) || Number.isNaN(y) || Number.isNaN(z)) {
        throw new ChemError('structure_invalid_coordinates', `site ${i + 1} has a non-finite fractional coordinate`);
      }
      this.fc[i] = z;
      this.px[i] = x * a1 + y * b1 + z * c1;
      this.py[i] = y * b2 + z * c2;
      this.pz[i] = z * c3;
      const bin = Math.min(ma - 1, Math.floor(x * ma)) + ma * (Math.min(mb - 1, Math.floor(y * mb)) + mb * Math.min(mc - 1, Math.floor(z * mc)));
      binOf[i] = bin;
      binStart[bin + 1]++;
    }
    for (let b = 0; b < nBins; b++) binStart[b + 1] += binStart[b];
    const binAtoms = new Int32Array(n);
    const fill = binStart.slice(0, nBins);
    for (let i = 0; i < n; i++) binAtoms[fill[binOf[i]]++] = i;
    this.binStart = binStart;
    this.binAtoms = binAtoms;
  }

  /**
   * Calls `visit(j, d2)` for periodic images of sites j at squared distance d2 <= r2 from site i (the site itself at
   * zero shift included, with d2 = 0), nearest bins first. `visit` returns the squared radius for the rest of the
   * search, so a k-nearest search can shrink it; it may throw to stop.
   */
  around(i: number, r2: number, visit: (j: number, d2: number) => number): void {
    const { a1, b1, b2, c1, c2, c3 } = this.frame;
    const { ma, mb, mc, px, py, pz, binStart, binAtoms } = this;
    const xi = px[i];
    const yi = py[i];
    const zi = pz[i];
    const fci = this.fc[i];
    const invA1 = 1 / a1;
    const invB2 = 1 / b2;
    const invC3 = 1 / c3;
    let steps = this.steps;
    const maxSteps = this.maxSteps;

    const tc0 = Math.min(mc - 1, Math.floor(fci * mc));
    for (let kc = 0; ; kc++) {
      const rc = Math.sqrt(r2) + BOUND_SLACK;
      const loC = Math.ceil((fci - rc * invC3) * mc) - 1;
      const hiC = Math.floor((fci + rc * invC3) * mc);
      if (tc0 + kc > hiC && tc0 - kc < loC) break;
      for (let sideC = 0; sideC < (kc === 0 ? 1 : 2); sideC++) {
        const tc = sideC === 0 ? tc0 + kc : tc0 - kc;
        if (tc < loC || tc > hiC) continue;
        if (++steps > maxSteps) throw this.tooMuchWork(); // layers and rows count too: most may hold no bin to visit
        const fcLo = tc / mc;
        const fcHi = (tc + 1) / mc;
        const zLo = fcLo * c3;
        const zHi = fcHi * c3;
        const dz = zi < zLo ? zLo - zi : zi > zHi ? zi - zHi : 0;
        const dz2 = dz * dz;
        if (dz2 > r2) continue;
        const ycMin = Math.min(fcLo * c2, fcHi * c2);
        const ycMax = Math.max(fcLo * c2, fcHi * c2);
        const xcMin = Math.min(fcLo * c1, fcHi * c1);
        const xcMax = Math.max(fcLo * c1, fcHi * c1);
        const shiftC = Math.floor(tc / mc);
        const binC = tc - shiftC * mc;

        let tb0 = Math.floor(((yi - 0.5 * (ycMin + ycMax)) * invB2) * mb);
        let firstB = true;
        for (let kb = 0; ; kb++) {
          const ryy = r2 - dz2;
          if (ryy < 0) break;
          const rb = Math.sqrt(ryy) + BOUND_SLACK;
          const loB = Math.ceil(((yi - rb - ycMax) * invB2) * mb) - 1;
          const hiB = Math.floor(((yi + rb - ycMin) * invB2) * mb);
          if (firstB) {
            tb0 = Math.min(hiB, Math.max(loB, tb0));
            firstB = false;
          }
          if (tb0 + kb > hiB && tb0 - kb < loB) break;
          for (let sideB = 0; sideB < (kb === 0 ? 1 : 2); sideB++) {
            const tb = sideB === 0 ? tb0 + kb : tb0 - kb;
            if (tb < loB || tb > hiB) continue;
            if (++steps > maxSteps) throw this.tooMuchWork();
            const fbLo = tb / mb;
            const fbHi = (tb + 1) / mb;
            const yLo = fbLo * b2 + ycMin;
            const yHi = fbHi * b2 + ycMax;
            const dy = yi < yLo ? yLo - yi : yi > yHi ? yi - yHi : 0;
            const dzy2 = dz2 + dy * dy;
            if (dzy2 > r2) continue;
            const xbcMin = Math.min(fbLo * b1, fbHi * b1) + xcMin;
            const xbcMax = Math.max(fbLo * b1, fbHi * b1) + xcMax;
            const shiftB = Math.floor(tb / mb);
            const binBC = ma * (tb - shiftB * mb + mb * binC);
            const sy = shiftB * b2 + shiftC * c2 - yi;
            const sz = shiftC * c3 - zi;

            let ta0 = Math.floor(((xi - 0.5 * (xbcMin + xbcMax)) * invA1) * ma);
            let firstA = true;
            for (let ka = 0; ; ka++) {
              const rxx = r2 - dzy2;
              if (rxx < 0) break;
              const ra = Math.sqrt(rxx) + BOUND_SLACK;
              const loA = Math.ceil(((xi - ra - xbcMax) * invA1) * ma) - 1;
              const hiA = Math.floor(((xi + ra - xbcMin) * invA1) * ma);
              if (firstA) {
                ta0 = Math.min(hiA, Math.max(loA, ta0));
                firstA = false;
              }
              if (ta0 + ka > hiA && ta0 - ka < loA) break;
              for (let sideA = 0; sideA < (ka === 0 ? 1 : 2); sideA++) {
                const ta = sideA === 0 ? ta0 + ka : ta0 - ka;
                if (ta < loA || ta > hiA) continue;
                const shiftA = Math.floor(ta / ma);
                const bin = ta - shiftA * ma + binBC;
                const sx = shiftA * a1 + shiftB * b1 + shiftC * c1 - xi;
                const start = binStart[bin];
                const end = binStart[bin + 1];
                steps += 1 + end - start;
                if (steps > maxSteps) throw this.tooMuchWork();
                for (let p = start; p < end; p++) {
                  const j = binAtoms[p];
                  const dx = px[j] + sx;
                  const dyj = py[j] + sy;
                  const dzj = pz[j] + sz;
                  const d2 = dx * dx + dyj * dyj + dzj * dzj;
                  if (d2 > r2) continue;
                  r2 = visit(j, d2);
                }
              }
            }
          }
        }
      }
    }
    this.steps = steps;
  }

  private tooMuchWork(): ChemError {
    const { spacingA, spacingB, spacingC } = this.frame;
    return new ChemError(
      'structure_search_too_large',
      `finding the neighbours of ${this.n} sites would take more than ${this.maxSteps.toExponential(0)} steps: the cell is too skewed ` +
        `or too sparse (lattice planes ${Math.min(spacingA, spacingB, spacingC).toPrecision(3)} Å apart); send a reduced (e.g. Niggli) cell`,
    );
  }
}

interface TriangularFrame {
  a1: number;
  b1: number;
  b2: number;
  c1: number;
  c2: number;
  c3: number;
  volume: number;
  /** Distances between neighbouring lattice planes spanned by (b, c), (c, a), (a, b). */
  spacingA: number;
  spacingB: number;
  spacingC: number;
}

/**
 * The lattice rotated so that a lies on x and b in the xy plane (rows a = (a1,0,0), b = (b1,b2,0), c = (c1,c2,c3)),
 * reflected if needed so c3 > 0. Distances are unchanged; in this frame a point's z depends on its c coordinate only
 * and y on its b and c coordinates only, which is what lets the search bound each direction in turn.
 */
function triangularFrame(lattice: Structure['lattice'], radius: number): TriangularFrame {
  const [A, B, C] = lattice;
  for (const v of [A, B, C]) {
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => Number.isFinite(x))) {
      throw new ChemError('structure_invalid_lattice', 'the lattice must be three vectors of three finite numbers (Å)');
    }
  }
  const la = Math.hypot(A[0], A[1], A[2]);
  const lb = Math.hypot(B[0], B[1], B[2]);
  const lc = Math.hypot(C[0], C[1], C[2]);
  const cross = (u: readonly number[], v: readonly number[]): [number, number, number] => [
    u[1] * v[2] - u[2] * v[1],
    u[2] * v[0] - u[0] * v[2],
    u[0] * v[1] - u[1] * v[0],
  ];
  const bxc = cross(B, C);
  const volume = Math.abs(A[0] * bxc[0] + A[1] * bxc[1] + A[2] * bxc[2]);
  // lengths near 1e308 overflow the volume (and every bin count derived from it) to Infinity
  if (!Number.isFinite(volume)) {
    throw new ChemError('structure_cell_too_large', `the cell is too large to search (lattice vectors ${[la, lb, lc].map((x) => x.toPrecision(3)).join(', ')} Å)`);
  }
  if (!(volume > 1e-8 * la * lb * lc) || !(volume > 0)) {
    throw new ChemError('structure_degenerate_lattice', 'the lattice vectors are (nearly) linearly dependent: the cell has no volume');
  }
  const e1 = [A[0] / la, A[1] / la, A[2] / la];
  const b1 = B[0] * e1[0] + B[1] * e1[1] + B[2] * e1[2];
  const bp = [B[0] - b1 * e1[0], B[1] - b1 * e1[1], B[2] - b1 * e1[2]];
  const b2 = Math.hypot(bp[0], bp[1], bp[2]);
  const e2 = [bp[0] / b2, bp[1] / b2, bp[2] / b2];
  const e3 = cross(e1, e2);
  const c1 = C[0] * e1[0] + C[1] * e1[1] + C[2] * e1[2];
  const c2 = C[0] * e2[0] + C[1] * e2[1] + C[2] * e2[2];
  const c3 = Math.abs(C[0] * e3[0] + C[1] * e3[1] + C[2] * e3[2]);
  const cxa = cross(C, A);
  const axb = cross(A, B);
  const spacingA = volume / Math.hypot(bxc[0], bxc[1], bxc[2]);
  const spacingB = volume / Math.hypot(cxa[0], cxa[1], cxa[2]);
  const spacingC = volume / Math.hypot(axb[0], axb[1], axb[2]);
  if (!(radius / Math.min(spacingA, spacingB, spacingC) <= MAX_PLANES_IN_RADIUS)) {
    throw new ChemError(
      'structure_degenerate_lattice',
      `the cell is too thin: lattice planes ${Math.min(spacingA, spacingB, spacingC).toExponential(2)} Å apart, far below the ${radius} Å search radius`,
    );
  }
  return { a1: la, b1, b2, c1, c2, c3, volume, spacingA, spacingB, spacingC };
}

/** Fractional coordinate in [0, 1); NaN for non-finite input. */
function wrap01(x: number): number {
  if (!Number.isFinite(x)) return Number.NaN;
  let f = x - Math.floor(x);
  if (f >= 1) f -= 1; // x = -1e-17 rounds to 1.0
  return f;
}
