import type { Site } from '../types.js';

/**
 * How messages name a site: its 1-based number in the parsed (for CIFs: symmetry-expanded) site list, its label when
 * the file gave one, and its species, e.g. `site 3 "O1" (O)` or `site 5 (Fe 0.5 + Co 0.5)`.
 */
export function siteName(site: Site, index: number): string {
  const label = site.label !== undefined && site.label !== '' ? ` "${site.label.slice(0, 20)}"` : '';
  const species = site.species.map((sp) => (sp.occu === 1 ? sp.element : `${sp.element} ${Number(sp.occu.toPrecision(4))}`)).join(' + ');
  return `site ${index + 1}${label} (${species})`;
}
