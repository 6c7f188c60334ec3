import { isElement } from '../elements.js';

/**
 * Element of a species string as the formats write it: "Fe", "Fe2+", "O2-", "Fe3+", "Fe+3", "Li1+" (pymatgen, CIF
 * type symbols); undefined when the string does not start with an element symbol followed only by a charge.
 */
export function elementOfSpecies(text: string): string | undefined {
  if (text.length > 32) return undefined;
  const m = /^([A-Z][a-z]?)(?:\d*(?:\.\d+)?[+-]|[+-]\d*(?:\.\d+)?)?$/.exec(text.trim());
  return m && isElement(m[1]) ? m[1] : undefined;
}

/**
 * Element named by a CIF type symbol or atom label, the way pymatgen's CifParser reads them: the first two letters if
 * they form an element (any case: "FE1" → Fe, "Ca2" → Ca), else the first letter ("O2" → O, "OH1" → O). Deuterium and
 * tritium are hydrogen for every property we predict.
 */
export function elementOfCifSymbol(text: string): { element: string; isotope?: boolean } | undefined {
  const m = /^[A-Za-z]{1,2}/.exec(text.trim());
  if (!m) return undefined;
  const letters = m[0];
  const two = letters.length === 2 ? letters[0].toUpperCase() + letters[1].toLowerCase() : '';
  if (two && isElement(two)) return { element: two };
  const one = letters[0].toUpperCase();
  if (one === 'D' || one === 'T') return { element: 'H', isotope: true };
  return isElement(one) ? { element: one } : undefined;
}

/** Element of a POSCAR species token: "Fe", "Fe_pv", "Fe_sv_GW", "Fe/1a2b3c" (VASP 6 writes POTCAR hashes). */
export function elementOfPoscarSymbol(text: string): string | undefined {
  const base = text.split(/[_/]/)[0];
  return isElement(base) ? base : undefined;
}
