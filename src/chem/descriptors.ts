import { atomicNumber, ELEMENT_SYMBOLS } from './elements.js';
import { MAGPIE_MAX_Z, MAGPIE_PROPERTIES, MAGPIE_SHA256, magpieTable } from './magpie.js';
import { ChemError, type Composition } from './types.js';

/**
 * Composition descriptors, the input of the composition experts:
 *   1. the element-fraction vector, Z = 1..103 (`frac:<El>`), the range the Magpie table covers;
 *   2. for each of the 63 Magpie properties, in MAGPIE_PROPERTIES order, seven numbers:
 *      `mean` (fraction-weighted), `avg_dev` (Σ f_i |x_i − mean|, Magpie's mean absolute deviation), `minimum`,
 *      `maximum`, `range`, `mode` and `missing`.
 * `mode` follows matminer's PropertyStats.mode with weights: the value of the most abundant element; when several
 * elements tie (np.isclose: |f − f_max| ≤ 1e-8 + 1e-5·f_max) the smallest of their values.
 *
 * Missing element data (an empty Magpie cell: e.g. H has no SecondIonizationEnergy, most heavy elements lack
 * elastic moduli) is never read as 0. The element's value is imputed with that property's plain mean over the
 * elements that have one, as matminer's `impute_nan=True` does, and `missing` = the fraction of the composition
 * whose value was imputed, so a model can tell a measured statistic from an imputed one. Refusing such elements
 * instead would refuse every hydride (SecondIonizationEnergy) and most compounds of Tc, Pm and the actinides.
 *
 * The statistics are raw (eV, K, Å³, … as in magpie_README.txt); a model must standardise them with statistics of
 * its own training set, stored with its checkpoint next to FEATURIZER_VERSION.
 */
export const FEATURIZER_VERSION = 'magpie-comp-v1';

export const STATISTICS = ['mean', 'avg_dev', 'minimum', 'maximum', 'range', 'mode', 'missing'] as const;

const N_ELEMENTS = MAGPIE_MAX_Z;
const N_STATS = STATISTICS.length;

export const featureCount = N_ELEMENTS + MAGPIE_PROPERTIES.length * N_STATS;

/** What a checkpoint of a composition model records about its inputs; equal specs mean identical feature vectors. */
export interface FeaturizerSpec {
  version: string;
  featureCount: number;
  magpieSha256: string;
}

export function featurizerSpec(): FeaturizerSpec {
  return { version: FEATURIZER_VERSION, featureCount, magpieSha256: MAGPIE_SHA256 };
}

let names: string[] | undefined;

/** Feature names in vector order (a fresh copy each call). */
export function featureNames(): string[] {
  names ??= [
    ...ELEMENT_SYMBOLS.slice(1, N_ELEMENTS + 1).map((el) => `frac:${el}`),
    ...MAGPIE_PROPERTIES.flatMap((prop) => STATISTICS.map((stat) => `${stat}:${prop}`)),
  ];
  return names.slice();
}

/**
 * Descriptor vector of a composition given as amounts or fractions (normalised here; elements with amount 0 are
 * ignored). Throws a ChemError for an unknown symbol, an element beyond Z = 103, a negative or non-finite amount,
 * or a composition with nothing in it.
 */
export function compositionFeatures(composition: Composition): Float32Array {
  const out = new Float32Array(featureCount);
  writeCompositionFeatures(composition, out, 0);
  return out;
}

/** Same as compositionFeatures, written into `out` from `offset` (for building a batch matrix without copies). */
export function writeCompositionFeatures(composition: Composition, out: Float32Array, offset: number): void {
  if (offset < 0 || offset + featureCount > out.length) throw new RangeError(`no room for ${featureCount} features at offset ${offset}`);
  const { zs, fractions } = normalise(composition);
  const { values, columnMean } = magpieTable();
  out.fill(0, offset, offset + featureCount);
  for (let e = 0; e < zs.length; e++) out[offset + zs[e] - 1] += fractions[e];

  let fMax = 0;
  for (const f of fractions) fMax = Math.max(fMax, f);
  const isMostAbundant = fractions.map((f) => Math.abs(f - fMax) <= 1e-8 + 1e-5 * fMax);

  const x = new Float64Array(zs.length);
  let base = offset + N_ELEMENTS;
  for (let p = 0; p < MAGPIE_PROPERTIES.length; p++, base += N_STATS) {
    const col = values[p];
    let missing = 0;
    let mean = 0;
    let min = Infinity;
    let max = -Infinity;
    let mode = Infinity;
    for (let e = 0; e < zs.length; e++) {
      let v = col[zs[e]];
      if (Number.isNaN(v)) {
        v = columnMean[p];
        missing += fractions[e];
      }
      x[e] = v;
      mean += fractions[e] * v;
      if (v < min) min = v;
      if (v > max) max = v;
      if (isMostAbundant[e] && v < mode) mode = v;
    }
    let avgDev = 0;
    for (let e = 0; e < zs.length; e++) avgDev += fractions[e] * Math.abs(x[e] - mean);
    out[base] = mean;
    out[base + 1] = avgDev;
    out[base + 2] = min;
    out[base + 3] = max;
    out[base + 4] = max - min;
    out[base + 5] = mode;
    out[base + 6] = missing;
  }
}

/** Row-major [compositions.length, featureCount] matrix. */
export function compositionFeatureMatrix(compositions: readonly Composition[]): Float32Array {
  const out = new Float32Array(compositions.length * featureCount);
  compositions.forEach((c, i) => writeCompositionFeatures(c, out, i * featureCount));
  return out;
}

function normalise(composition: Composition): { zs: number[]; fractions: number[] } {
  const zs: number[] = [];
  const amounts: number[] = [];
  let total = 0;
  for (const [symbol, amount] of Object.entries(composition)) {
    const z = atomicNumber(symbol);
    if (z === undefined) throw new ChemError('descriptor_unknown_element', `"${symbol}" is not an element symbol`);
    if (z > MAGPIE_MAX_Z) {
      throw new ChemError(
        'descriptor_element_out_of_range',
        `${symbol} (Z = ${z}) has no Magpie element data: composition descriptors cover H to Lr (Z = 1–${MAGPIE_MAX_Z})`,
      );
    }
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
      throw new ChemError('descriptor_invalid_amount', `the amount of ${symbol} must be a finite number ≥ 0 (got ${String(amount)})`);
    }
    if (amount === 0) continue;
    zs.push(z);
    amounts.push(amount);
    total += amount;
  }
  if (zs.length === 0 || !(total > 0) || !Number.isFinite(total)) {
    throw new ChemError('descriptor_empty_composition', 'the composition has no element with a positive amount');
  }
  return { zs, fractions: amounts.map((a) => a / total) };
}
