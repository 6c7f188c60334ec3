import { ChemError, type Composition, type Structure } from './types.js';

/** Element → summed occupancy over all sites (atoms per cell; vacancies simply count less), in order of first appearance. */
export function structureComposition(s: Structure): Composition {
  const out: Composition = {};
  for (const site of s.sites) {
    for (const { element, occu } of site.species) out[element] = (out[element] ?? 0) + occu;
  }
  return out;
}

/** Element → amount / total amount (pymatgen's `get_atomic_fraction`); throws on an empty or zero composition. */
export function atomicFractions(c: Composition): Composition {
  let total = 0;
  for (const v of Object.values(c)) total += Math.abs(v);
  if (!(total > 0) || !Number.isFinite(total)) {
    throw new ChemError('composition_empty', 'the composition has no atoms, so atomic fractions are undefined');
  }
  const out: Composition = {};
  for (const [el, v] of Object.entries(c)) out[el] = Math.abs(v) / total;
  return out;
}
