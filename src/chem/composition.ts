import { ChemError, type Composition, type Structure } from './types.js';

/** Element → summed occupancy over all sites (atoms per cell; vacancies simply count less), in order of first appearance. */
export function structureComposition(s: Pick<Structure, 'sites'>): Composition {
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

/**
 * Smallest amount of an element (atoms per formula unit, or summed occupancy per cell) that is read as present: below
 * it an amount is rounding noise (Fe1e-300O), and pymatgen's reduced formula would drop it (its tolerance is 1e-8)
 * while the composition kept it. The formula reference table's smallest amount is 5e-6.
 */
export const MIN_ELEMENT_AMOUNT = 1e-6;
/**
 * Smallest share of the atoms an element may have. Not 1e-6: the formula reference table has synthetic rows whose
 * smallest element is 2.6e-7 of the atoms (Eu0.1(Ne0.000123Cs12.5)3No0.00001Au0.5), and those must stay valid.
 */
export const MIN_ATOMIC_FRACTION = 1e-8;

export interface AmountProblem {
  element: string;
  kind: 'not_finite' | 'too_small';
  /** Why, for a message that names the element: "its amount is 1e-300; amounts below 1e-6 cannot be told from zero". */
  why: string;
}

/** The first element (in insertion order) whose amount is not finite, below MIN_ELEMENT_AMOUNT, or below MIN_ATOMIC_FRACTION of the atoms. */
export function amountProblem(c: Composition): AmountProblem | undefined {
  let total = 0;
  for (const [element, amount] of Object.entries(c)) {
    if (!Number.isFinite(amount)) return { element, kind: 'not_finite', why: 'its amount is too large to compute with' };
    total += amount;
  }
  if (!Number.isFinite(total)) {
    const element = Object.keys(c).reduce((x, y) => (c[y] > c[x] ? y : x));
    return { element, kind: 'not_finite', why: `its amount ${c[element]} makes the total number of atoms too large to compute with` };
  }
  for (const [element, amount] of Object.entries(c)) {
    if (!(amount >= MIN_ELEMENT_AMOUNT)) {
      return { element, kind: 'too_small', why: `its amount is ${amount}; amounts below ${MIN_ELEMENT_AMOUNT.toExponential()} cannot be told from zero` };
    }
    const fraction = amount / total;
    if (!(fraction >= MIN_ATOMIC_FRACTION)) {
      return {
        element,
        kind: 'too_small',
        why: `it is only ${fraction.toPrecision(3)} of the atoms; shares below ${MIN_ATOMIC_FRACTION.toExponential()} are not meaningful`,
      };
    }
  }
  return undefined;
}
