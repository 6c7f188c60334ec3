/**
 * CGCNN's edge features: each neighbour distance expanded on Gaussians centred on a regular grid,
 * exactly as `GaussianDistance(dmin=0, dmax=radius, step=0.2)` in CGCNN's data.py:
 * `filter = np.arange(dmin, dmax + step, step)`, `exp(-(d - filter)^2 / var^2)` with `var = step` by default.
 */
export interface GaussianOptions {
  dmin?: number;
  dmax?: number;
  step?: number;
  /** The `var` of CGCNN (used squared in the denominator); defaults to `step`. */
  width?: number;
}

/**
 * The Gaussian centres, built the way `np.arange(dmin, dmax + step, step)` builds them
 * (length `ceil((stop - start) / step)`, value `start + i * step`), so the count matches CGCNN
 * even where floating point puts `dmax` a hair off the grid (41 for the defaults).
 */
export function gaussianCentres(opts: GaussianOptions = {}): Float64Array {
  const dmin = opts.dmin ?? 0;
  const dmax = opts.dmax ?? 8;
  const step = opts.step ?? 0.2;
  if (!(Number.isFinite(dmin) && Number.isFinite(dmax) && Number.isFinite(step)) || step <= 0 || dmax - dmin <= step) {
    throw new RangeError(`gaussian grid needs finite dmin < dmax with dmax - dmin > step > 0 (got ${dmin}, ${dmax}, ${step})`);
  }
  const n = Math.ceil((dmax + step - dmin) / step);
  const mu = new Float64Array(n);
  for (let k = 0; k < n; k++) mu[k] = dmin + k * step;
  return mu;
}

/** The smallest normal float32, 2^-126. */
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

/**
 * Row-major `[dist.length, nCentres]` (41 for the defaults). Computed in float64 and stored as float32, as CGCNN does,
 * except that values below float32's normal range are stored as 0: the centres ~1.9-2 Å away (one or two of 41 per
 * distance) would be subnormal, and wasm has no flush-to-zero mode, so every product with one takes the slow path
 * (it made e·W_edge half of a CGCNN forward pass). Such a value cannot move any float32 sum it enters.
 */
export function gaussianExpand(dist: ArrayLike<number>, opts: GaussianOptions = {}): Float32Array {
  const mu = gaussianCentres(opts);
  const width = opts.width ?? opts.step ?? 0.2;
  if (!(width > 0) || !Number.isFinite(width)) throw new RangeError(`gaussian width must be a positive number (got ${width})`);
  const inv = 1 / (width * width);
  const n = mu.length;
  const out = new Float32Array(dist.length * n);
  for (let i = 0; i < dist.length; i++) {
    const d = dist[i];
    const base = i * n;
    for (let k = 0; k < n; k++) {
      const t = d - mu[k];
      const v = Math.exp(-t * t * inv);
      out[base + k] = v < FLOAT32_MIN_NORMAL ? 0 : v;
    }
  }
  return out;
}
