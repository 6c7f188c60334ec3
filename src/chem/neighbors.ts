import { NUMERICAL_TOL, PeriodicSearch } from './periodic-search.js';
import type { Structure } from './types.js';

export { gaussianCentres, gaussianExpand, type GaussianOptions } from './gaussian.js';

/**
 * Identifies the neighbour-graph definition stored with features and checkpoints. Bump it whenever the
 * graph a structure gets could change (cutoff rule, padding, tie handling, precision).
 * v1: CGCNN's rule: every periodic image within radius (+1e-8, pymatgen's tolerance), nearest `maxNeighbors` kept,
 * padded with index 0 and distance radius + 1; float64 search, float32 distances.
 */
export const GRAPH_VERSION = 'cgcnn-nbr-v1';

export interface NeighborGraph {
  nSites: number;
  maxNeighbors: number;
  /** nSites × maxNeighbors, row-major; neighbour site indices, nearest first, padding = 0. */
  nbrIdx: Int32Array;
  /** Same layout, Å; padding = radius + 1 (9.0 by default). */
  nbrDist: Float32Array;
  /** Sites with fewer than maxNeighbors neighbours inside the radius (CGCNN warns about these; the model still runs). */
  paddedSites: number;
}

export interface NeighborOptions {
  /** Cutoff in Å (CGCNN: 8). */
  radius?: number;
  /** Neighbours kept per site (CGCNN: 12). */
  maxNeighbors?: number;
  /** Target edge of a search bin in Å; a tuning knob (and a test hook), not part of the graph definition. */
  binWidth?: number;
}

/**
 * CGCNN's neighbour graph of a periodic structure: for each site, the nearest `maxNeighbors` periodic images of all
 * sites (itself included, except at zero distance) within `radius`, sorted by distance; rows with fewer are padded
 * with index 0 and distance radius + 1. The order among exactly equidistant neighbours is not defined.
 *
 * The search (PeriodicSearch) visits bins nearest-first and its radius shrinks to the current 12th-nearest distance,
 * so the cost per site is bounded and the total grows linearly with the number of sites.
 */
export function buildNeighborGraph(s: Structure, opts: NeighborOptions = {}): NeighborGraph {
  const radius = opts.radius ?? 8;
  const K = opts.maxNeighbors ?? 12;
  if (!(radius > 0) || !Number.isFinite(radius)) throw new RangeError(`radius must be a positive number of Å (got ${radius})`);
  if (!Number.isInteger(K) || K < 1) throw new RangeError(`maxNeighbors must be a positive integer (got ${K})`);

  const n = s.sites.length;
  const nbrIdx = new Int32Array(n * K);
  const nbrDist = new Float32Array(n * K).fill(radius + 1);
  if (n === 0) return { nSites: 0, maxNeighbors: K, nbrIdx, nbrDist, paddedSites: 0 };

  const search = new PeriodicSearch(s, radius, opts.binWidth);
  const speciesClass = speciesClasses(s);
  const cutoff2 = (radius + NUMERICAL_TOL) * (radius + NUMERICAL_TOL);
  const tol2 = NUMERICAL_TOL * NUMERICAL_TOL;
  // Max-heap of the K nearest found so far (squared distance, site index).
  const heapD = new Float64Array(K);
  const heapJ = new Int32Array(K);
  let paddedSites = 0;
  let size = 0;
  let classI = 0;
  /** Offers one image to the heap; returns the search radius² (the K-th nearest distance once K are found). */
  const offer = (j: number, d2: number): number => {
    // A site is not its own neighbour; pymatgen also drops coincident sites of the same species.
    if (d2 <= tol2 && speciesClass[j] === classI) return size === K ? heapD[0] : cutoff2;
    if (size < K) {
      let c = size++;
      while (c > 0) {
        const parent = (c - 1) >> 1;
        if (heapD[parent] >= d2) break;
        heapD[c] = heapD[parent];
        heapJ[c] = heapJ[parent];
        c = parent;
      }
      heapD[c] = d2;
      heapJ[c] = j;
    } else if (d2 < heapD[0]) {
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= K) break;
        const rgt = l + 1;
        const big = rgt < K && heapD[rgt] > heapD[l] ? rgt : l;
        if (heapD[big] <= d2) break;
        heapD[c] = heapD[big];
        heapJ[c] = heapJ[big];
        c = big;
      }
      heapD[c] = d2;
      heapJ[c] = j;
    }
    return size === K ? heapD[0] : cutoff2;
  };

  for (let i = 0; i < n; i++) {
    size = 0;
    classI = speciesClass[i];
    search.around(i, cutoff2, offer);

    // Sort the kept neighbours (at most K, so insertion sort); equal distances by index for a deterministic output.
    for (let p = 1; p < size; p++) {
      const d = heapD[p];
      const j = heapJ[p];
      let q = p - 1;
      while (q >= 0 && (heapD[q] > d || (heapD[q] === d && heapJ[q] > j))) {
        heapD[q + 1] = heapD[q];
        heapJ[q + 1] = heapJ[q];
        q--;
      }
      heapD[q + 1] = d;
      heapJ[q + 1] = j;
    }
    const row = i * K;
    for (let p = 0; p < size; p++) {
      nbrIdx[row + p] = heapJ[p];
      nbrDist[row + p] = Math.sqrt(heapD[p]);
    }
    if (size < K) paddedSites++;
  }
  return { nSites: n, maxNeighbors: K, nbrIdx, nbrDist, paddedSites };
}

/** Sites with identical species lists share a class id (used only for the coincident-site rule). */
function speciesClasses(s: Structure): Int32Array {
  const ids = new Map<string, number>();
  const out = new Int32Array(s.sites.length);
  s.sites.forEach((site, i) => {
    const key = site.species
      .map((sp) => `${sp.element}:${sp.occu}`)
      .sort()
      .join(',');
    let id = ids.get(key);
    if (id === undefined) {
      id = ids.size;
      ids.set(key, id);
    }
    out[i] = id;
  });
  return out;
}
