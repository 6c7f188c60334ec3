import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ELEMENT_SYMBOLS } from './elements.js';
import { ASSETS_DIR } from '../paths.js';

/**
 * The Magpie element-property table (Ward et al., npj Comput. Mater. 2, 16028, 2016; from matminer, whose licence
 * is kept beside it in assets/elements/MATMINER_LICENSE.txt): one row per element Z = 1–103, one column per property.
 */

/** Property columns in file order; the descriptor layout depends on this order. */
export const MAGPIE_PROPERTIES = [
  'AllenElectronegativity', 'AtomicRadius', 'AtomicVolume', 'AtomicWeight', 'BoilingT', 'BulkModulus', 'Column',
  'CovalentRadius', 'Density', 'DipolePolarizability', 'ElectronAffinity', 'Electronegativity', 'FirstIonizationEnergy',
  'FusionEnthalpy', 'GSbandgap', 'GSenergy_pa', 'GSestBCClatcnt', 'GSestFCClatcnt', 'GSmagmom', 'GSvolume_pa', 'HHIp',
  'HHIr', 'HeatCapacityMass', 'HeatCapacityMolar', 'HeatFusion', 'HeatVaporization', 'ICSDVolume', 'IsAlkali',
  'IsDBlock', 'IsFBlock', 'IsMetal', 'IsMetalloid', 'IsNonmetal', 'LogThermalConductivity', 'MeltingT',
  'MendeleevNumber', 'MiracleRadius', 'MolarVolume', 'NUnfilled', 'NValence', 'NdUnfilled', 'NdValence', 'NfUnfilled',
  'NfValence', 'NpUnfilled', 'NpValence', 'NsUnfilled', 'NsValence', 'Number', 'Polarizability', 'Row',
  'SecondIonizationEnergy', 'ShearModulus', 'SpaceGroupNumber', 'ThermalConductivity', 'VdWRadius', 'ZungerPP-r_d',
  'ZungerPP-r_p', 'ZungerPP-r_pi', 'ZungerPP-r_s', 'ZungerPP-r_sigma', 'n_ws^third', 'phi',
] as const;

export const MAGPIE_MAX_Z = 103;

/**
 * SHA-256 of assets/elements/magpie.csv (line endings normalised to \n). Descriptors, and so every checkpoint of a
 * composition expert, depend on these numbers: a different table must come with a new FEATURIZER_VERSION.
 */
export const MAGPIE_SHA256 = '635bd3b9b1e6693785c810e05321c66edb486ddd5d6d5cd7f30edd3e6b6ce279';

export interface MagpieTable {
  /** values[p][Z] for property p (MAGPIE_PROPERTIES order) and Z = 1..103; index 0 unused; NaN where Magpie has no value. */
  values: Float64Array[];
  /** Per property, the plain mean over the elements (Z = 1..103) that have a value: the imputation value. */
  columnMean: Float64Array;
}

let cached: MagpieTable | undefined;

/** The table from assets/elements/magpie.csv, read and checked on first use. */
export function magpieTable(): MagpieTable {
  cached ??= parseMagpieCsv(readFileSync(join(ASSETS_DIR, 'elements', 'magpie.csv'), 'utf8'));
  return cached;
}

/** Parses and validates the CSV; with `expectedSha256` (the default) a table other than the pinned one is refused. */
export function parseMagpieCsv(text: string, expectedSha256: string | null = MAGPIE_SHA256): MagpieTable {
  const normalised = text.replace(/\r\n?/g, '\n');
  if (expectedSha256 !== null) {
    const sha = createHash('sha256').update(normalised, 'utf8').digest('hex');
    if (sha !== expectedSha256) {
      throw new Error(`magpie.csv does not match the table this featurizer version was built on (sha256 ${sha}, expected ${expectedSha256})`);
    }
  }
  const lines = normalised.split('\n').filter((l) => l.length > 0);
  const header = lines[0].split(',');
  const expectedHeader = ['Z', 'symbol', ...MAGPIE_PROPERTIES];
  if (header.length !== expectedHeader.length || header.some((h, k) => h !== expectedHeader[k])) {
    throw new Error('magpie.csv: unexpected header; the property columns must be exactly MAGPIE_PROPERTIES in order');
  }
  if (lines.length !== MAGPIE_MAX_Z + 1) throw new Error(`magpie.csv: expected ${MAGPIE_MAX_Z} element rows, found ${lines.length - 1}`);
  const values = MAGPIE_PROPERTIES.map(() => new Float64Array(MAGPIE_MAX_Z + 1).fill(Number.NaN));
  for (let z = 1; z <= MAGPIE_MAX_Z; z++) {
    const cells = lines[z].split(',');
    if (cells.length !== expectedHeader.length || Number(cells[0]) !== z || cells[1] !== ELEMENT_SYMBOLS[z]) {
      throw new Error(`magpie.csv: row ${z} should be Z=${z} (${ELEMENT_SYMBOLS[z]}) with ${expectedHeader.length} cells`);
    }
    for (let p = 0; p < MAGPIE_PROPERTIES.length; p++) {
      const cell = cells[p + 2];
      if (cell === '') continue;
      const v = Number(cell);
      if (!Number.isFinite(v)) throw new Error(`magpie.csv: ${MAGPIE_PROPERTIES[p]} of ${cells[1]} is not a number: "${cell}"`);
      values[p][z] = v;
    }
  }
  const columnMean = new Float64Array(MAGPIE_PROPERTIES.length);
  values.forEach((col, p) => {
    let sum = 0;
    let count = 0;
    for (let z = 1; z <= MAGPIE_MAX_Z; z++) {
      if (!Number.isNaN(col[z])) {
        sum += col[z];
        count++;
      }
    }
    if (count === 0) throw new Error(`magpie.csv: ${MAGPIE_PROPERTIES[p]} has no value for any element`);
    columnMean[p] = sum / count;
  });
  return { values, columnMean };
}
