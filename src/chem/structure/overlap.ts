import { PeriodicSearch } from '../periodic-search.js';
import { ChemError, type Site } from '../types.js';
import type { Mat3 } from './lattice.js';
import { siteName } from './site-name.js';

/**
 * Two atoms closer than this (Å) cannot both be there: the shortest bond, H–H, is 0.74 Å, and over the 13,534 task
 * structures the closest pair of sites is 0.949 Å apart. Species sharing one site (disorder) are one site, never a pair.
 */
export const MIN_SITE_DISTANCE = 0.5;

/**
 * Refuses (`sites_overlap`) two distinct sites, or a site and its own periodic image, closer than MIN_SITE_DISTANCE
 * under periodic boundary conditions (the minimum-image distance, exact in any cell shape). Uses the binned periodic
 * search, so the cost is linear in the number of sites; it stops at the first pair found.
 */
export function checkSiteDistances(lattice: Mat3, sites: Site[], where: string): void {
  const search = new PeriodicSearch({ lattice, sites, partialOccupancy: false, warnings: [] }, MIN_SITE_DISTANCE);
  const r2 = MIN_SITE_DISTANCE * MIN_SITE_DISTANCE;
  for (let i = 0; i < sites.length; i++) {
    search.around(i, r2, (j, d2) => {
      if (d2 >= r2 || (j === i && d2 === 0)) return r2; // exactly 0.5 Å is allowed; the site itself is no pair
      const d = Math.sqrt(d2).toFixed(3);
      if (j === i) {
        throw new ChemError(
          'sites_overlap',
          `${where}: ${siteName(sites[i], i)} is only ${d} Å from its own periodic image: the cell is too small to hold it ` +
            `(atoms must be at least ${MIN_SITE_DISTANCE} Å apart)`,
        );
      }
      const [p, q] = i < j ? [i, j] : [j, i];
      throw new ChemError(
        'sites_overlap',
        `${where}: ${siteName(sites[p], p)} and ${siteName(sites[q], q)} are only ${d} Å apart (nearest periodic images); ` +
          `atoms must be at least ${MIN_SITE_DISTANCE} Å apart. Remove duplicated atoms; species that share one position ` +
          'belong on one disordered site',
      );
    });
  }
}
