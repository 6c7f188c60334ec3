import { amountProblem, MIN_ELEMENT_AMOUNT, structureComposition } from '../composition.js';
import { ChemError, type Site, type Structure } from '../types.js';
import { checkCell } from './cell.js';
import { det3, type Mat3 } from './lattice.js';
import { checkSiteDistances } from './overlap.js';
import { siteName } from './site-name.js';

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
/**
 * Fractional coordinates beyond this many cells from the origin are refused: wrapping them back into the cell loses
 * their precision (at 2^51 a double cannot hold a fraction finer than 0.5), so the site would land anywhere. Task
 * structures stay within -0.11 … 1.03.
 */
export const MAX_FRACTIONAL_COORDINATE = 1000;
/** Smaller occupancies cannot be told from an empty site (and would vanish from the reduced formula). */
export const MIN_OCCUPANCY = MIN_ELEMENT_AMOUNT;

/** Why an occupancy is refused (for a message that names the site), or undefined when it is fine. */
export function occupancyProblem(occu: number, tolerance = OCCUPANCY_TOLERANCE): string | undefined {
  if (!Number.isFinite(occu)) return 'an occupancy must be a finite number';
  if (occu <= 0) return 'an occupancy must be above 0 (leave out atoms that are not there)';
  if (occu < MIN_OCCUPANCY) return `an occupancy below ${MIN_OCCUPANCY.toExponential()} cannot be told from an empty site`;
  if (occu > 1 + tolerance) return 'an occupancy must be at most 1';
  return undefined;
}

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
 * Checks the limits every parser shares and builds the Structure: at least one site, at most `maxSites`, a physical
 * cell (checkCell), finite coordinates within MAX_FRACTIONAL_COORDINATE cells, occupancies in (0, 1] per site (at
 * least MIN_OCCUPANCY), a cell volume above `minVolumePerSite` per site, no two sites closer than MIN_SITE_DISTANCE,
 * and no element below MIN_ATOMIC_FRACTION of the atoms. Messages name the site (number, label, species).
 */
export function finishStructure(lattice: Mat3, sites: Site[], warnings: string[], limits: StructureLimits, where: string): Structure {
  if (sites.length === 0) throw new ChemError('structure_empty', `${where} has no atom sites`);
  if (sites.length > limits.maxSites) throw tooManySites(sites.length, limits, where);
  checkCell(lattice, { where });
  let disordered = 0;
  sites.forEach((site, i) => {
    if (!site.frac.every((x) => Number.isFinite(x))) {
      throw new ChemError('structure_non_finite', `${where}: ${siteName(site, i)} has a non-finite coordinate`);
    }
    if (!site.frac.every((x) => Math.abs(x) <= MAX_FRACTIONAL_COORDINATE)) {
      throw new ChemError(
        'structure_coordinate_out_of_range',
        `${where}: ${siteName(site, i)} has fractional coordinates ${site.frac.map((x) => x.toPrecision(4)).join(', ')}, ` +
          `more than ${MAX_FRACTIONAL_COORDINATE} cells from the origin; give positions within the cell`,
      );
    }
    if (site.species.length === 0) throw new ChemError('structure_invalid', `${where}: site ${i + 1} has no species`);
    let total = 0;
    for (const sp of site.species) {
      if (!Number.isFinite(sp.occu)) throw new ChemError('structure_non_finite', `${where}: ${siteName(site, i)} has a non-finite occupancy`);
      const why = occupancyProblem(sp.occu);
      if (why) throw new ChemError('structure_bad_occupancy', `${where}: ${siteName(site, i)} has occupancy ${sp.occu} for ${sp.element}; ${why}`);
      total += sp.occu;
    }
    if (total > 1 + OCCUPANCY_TOLERANCE) {
      throw new ChemError('structure_bad_occupancy', `${where}: the occupancies of ${siteName(site, i)} add up to ${total.toFixed(4)}, more than 1`);
    }
    if (total > 1) for (const sp of site.species) sp.occu /= total;
    if (site.species.length > 1 || total < 1 - 1e-6) disordered++;
  });
  const volume = Math.abs(det3(lattice));
  if (!(volume > limits.minVolumePerSite * sites.length) || volume === 0) {
    throw new ChemError(
      'structure_degenerate_lattice',
      `${where}: the cell volume is ${volume.toPrecision(3)} Å³ for ${sites.length} sites, less than ${limits.minVolumePerSite} Å³ per site`,
    );
  }
  checkSiteDistances(lattice, sites, where);
  const problem = amountProblem(structureComposition({ sites }));
  if (problem) {
    throw new ChemError('structure_amount_too_small', `${where}: ${problem.element} cannot be used in a prediction: ${problem.why}`);
  }
  if (disordered > 0) {
    warnings.push(`${disordered} of ${sites.length} sites are disordered (mixed species or partial occupancy); the average composition is used`);
  }
  return { lattice, sites, partialOccupancy: disordered > 0, warnings };
}
