import { ChemError, type Site, type Structure } from '../types.js';
import { det3, isFiniteMat, type Mat3 } from './lattice.js';

export interface StructureLimits {
  /** Most sites a structure may have after symmetry expansion (default 500). */
  maxSites: number;
  /** Smallest cell volume per site in Å³ (default 1e-3); below it the lattice is treated as degenerate. */
  minVolumePerSite: number;
}

export const DEFAULT_STRUCTURE_LIMITS: Readonly<StructureLimits> = Object.freeze({ maxSites: 500, minVolumePerSite: 1e-3 });

/** Largest CIF / POSCAR text accepted (characters), so a huge upload fails fast instead of being tokenised. */
export const MAX_STRUCTURE_TEXT_LENGTH = 5_000_000;

/** Occupancy sums up to 1 + this are rounding (0.334 + 0.667) and are scaled back to 1; more is an error. */
export const OCCUPANCY_TOLERANCE = 1e-3;

export function resolveLimits(limits?: Partial<StructureLimits>): StructureLimits {
  const out = { ...DEFAULT_STRUCTURE_LIMITS, ...(limits ?? {}) };
  if (!Number.isInteger(out.maxSites) || out.maxSites < 1) {
    throw new ChemError('structure_invalid_limits', `maxSites must be a positive integer, not ${String(out.maxSites)}`);
  }
  if (!Number.isFinite(out.minVolumePerSite) || out.minVolumePerSite < 0) {
    throw new ChemError('structure_invalid_limits', `minVolumePerSite must be a non-negative number, not ${String(out.minVolumePerSite)}`);
  }
  return out;
}

export function tooManySites(count: number | string, limits: StructureLimits, where: string, position?: number): ChemError {
  return new ChemError(
    'structure_too_many_sites',
    `${where} has ${count} sites; at most ${limits.maxSites} are accepted (use a smaller or primitive cell)`,
    position,
  );
}

export function checkTextLength(text: string, format: string): void {
  if (text.length > MAX_STRUCTURE_TEXT_LENGTH) {
    throw new ChemError('structure_too_large', `the ${format} text is ${text.length} characters long; at most ${MAX_STRUCTURE_TEXT_LENGTH} are accepted`);
  }
}

/**
 * Checks the limits every parser shares and builds the Structure: at least one site, at most `maxSites`, finite
 * numbers everywhere, occupancies in (0, 1] per site, and a cell volume above `minVolumePerSite` per site.
 */
export function finishStructure(lattice: Mat3, sites: Site[], warnings: string[], limits: StructureLimits, where: string): Structure {
  if (sites.length === 0) throw new ChemError('structure_empty', `${where} has no atom sites`);
  if (sites.length > limits.maxSites) throw tooManySites(sites.length, limits, where);
  if (!isFiniteMat(lattice)) throw new ChemError('structure_non_finite', `${where}: the lattice contains a non-finite number`);
  let disordered = 0;
  sites.forEach((site, i) => {
    if (!site.frac.every((x) => Number.isFinite(x))) {
      throw new ChemError('structure_non_finite', `${where}: site ${i + 1} has a non-finite coordinate`);
    }
    let total = 0;
    for (const sp of site.species) {
      if (!Number.isFinite(sp.occu)) throw new ChemError('structure_non_finite', `${where}: site ${i + 1} has a non-finite occupancy`);
      if (!(sp.occu > 0)) throw new ChemError('structure_bad_occupancy', `${where}: site ${i + 1} has occupancy ${sp.occu} for ${sp.element}; occupancies must be above 0`);
      total += sp.occu;
    }
    if (site.species.length === 0) throw new ChemError('structure_invalid', `${where}: site ${i + 1} has no species`);
    if (total > 1 + OCCUPANCY_TOLERANCE) {
      const what = site.species.map((s) => `${s.element} ${s.occu}`).join(' + ');
      throw new ChemError('structure_bad_occupancy', `${where}: the occupancies of site ${i + 1} (${what}) add up to ${total.toFixed(4)}, more than 1`);
    }
    if (total > 1) for (const sp of site.species) sp.occu /= total;
    if (site.species.length > 1 || total < 1 - 1e-6) disordered++;
  });
  const volume = Math.abs(det3(lattice));
  if (!(volume > limits.minVolumePerSite * sites.length) || volume === 0) {
    throw new ChemError(
      'structure_degenerate_lattice',
      `${where}: the cell volume is ${volume.toPrecision(3)} Å³ for ${sites.length} sites; the lattice vectors are (nearly) linearly dependent`,
    );
  }
  if (disordered > 0) {
    warnings.push(`${disordered} of ${sites.length} sites are disordered (mixed species or partial occupancy); the average composition is used`);
  }
  return { lattice, sites, partialOccupancy: disordered > 0, warnings };
}
