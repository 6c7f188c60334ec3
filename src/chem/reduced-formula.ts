import { paulingElectronegativity } from './electronegativity.js';
import type { Composition } from './types.js';

/*
 * pymatgen's `Composition.reduced_formula` (2022.11.7), reproduced step by step because users and the task data compare
 * formulas as strings: `get_reduced_formula_and_factor`, `reduce_formula`, `formula` and `formula_double_format`.
 *
 * The one subtle part is ordering. pymatgen sorts symbols by electronegativity with Python's `sorted`; elements without
 * one (He, Ne, Ar, Z >= 104) get NaN, and every comparison with NaN is false. The result then depends on the input
 * order and on the exact steps of CPython's sort, so `pythonSort` replays CPython 3.11's list.sort for short lists.
 */

/** pymatgen's `Composition.amount_tolerance`. */
const AMOUNT_TOLERANCE = 1e-8;

/** pymatgen writes these reduced formulas as the molecule / peroxide (and halves the factor). */
const SPECIAL_FORMULAS: Readonly<Record<string, string>> = {
  LiO: 'Li2O2', NaO: 'Na2O2', KO: 'K2O2', HO: 'H2O2', CsO: 'Cs2O2', RbO: 'Rb2O2',
  O: 'O2', N: 'N2', F: 'F2', Cl: 'Cl2', H: 'H2',
};

function electronegativity(symbol: string): number {
  return paulingElectronegativity(symbol) ?? Number.NaN;
}

/**
 * CPython 3.11 `list.sort` with a "less than" predicate: for fewer than 64 items it is one natural run (reversed if
 * strictly descending) extended by binary insertion. With a consistent predicate this is an ordinary stable sort; with
 * NaN keys it reproduces Python's order exactly. Longer lists (more than 63 elements in one formula) use a plain stable
 * sort, which differs from Python only when NaN keys are involved.
 */
export function pythonSort<T>(items: readonly T[], lessThan: (a: T, b: T) => boolean): T[] {
  const a = [...items];
  const n = a.length;
  if (n < 2) return a;
  if (n >= 64) return a.sort((x, y) => (lessThan(x, y) ? -1 : lessThan(y, x) ? 1 : 0));
  let run = 2;
  if (lessThan(a[1], a[0])) {
    while (run < n && lessThan(a[run], a[run - 1])) run++;
    a.splice(0, run, ...a.slice(0, run).reverse());
  } else {
    while (run < n && !lessThan(a[run], a[run - 1])) run++;
  }
  for (let start = run; start < n; start++) {
    const pivot = a[start];
    let l = 0;
    let r = start;
    while (l < r) {
      const p = l + ((r - l) >> 1);
      if (lessThan(pivot, a[p])) r = p;
      else l = p + 1;
    }
    for (let p = start; p > l; p--) a[p] = a[p - 1];
    a[l] = pivot;
  }
  return a;
}

/** Python's `repr(float)`: shortest round-trip digits, ".0" on integral values, exponent below 1e-4 and from 1e16. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const ax = Math.abs(x);
  if (ax !== 0 && (ax < 1e-4 || ax >= 1e16)) {
    const [mant, exp] = x.toExponential().split('e');
    const e = Number(exp);
    return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (Number.isInteger(x)) return `${x === 0 && Object.is(x, -0) ? '-0' : String(x)}.0`;
  return String(x);
}

/** Python's `round(x, 8)` (correctly rounded on the binary value, as `toFixed` is). */
function round8(x: number): number {
  return Math.abs(x) >= 1e21 ? x : Number(x.toFixed(8));
}

/** pymatgen.util.string.formula_double_format. */
export function formulaDoubleFormat(amount: number, ignoreOnes = true): string {
  if (ignoreOnes && amount === 1) return '';
  if (Math.abs(amount - Math.trunc(amount)) < 1e-8) return String(Math.trunc(amount));
  return pythonFloatRepr(round8(amount));
}

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Python's comparison of the keys `[X, symbol]`: a NaN X makes both `<` and `==` false. */
function xThenSymbolLess(a: string, b: string): boolean {
  const xa = electronegativity(a);
  const xb = electronegativity(b);
  if (xa === xb) return a < b;
  return xa < xb;
}

/** pymatgen.core.composition.reduce_formula on integer amounts (insertion order matters, see pythonSort). */
function reduceFormula(symAmt: ReadonlyMap<string, number>): { formula: string; factor: number } {
  let syms = pythonSort([...symAmt.keys()], xThenSymbolLess);
  syms = syms.filter((s) => Math.abs(symAmt.get(s)!) > AMOUNT_TOLERANCE);
  let factor = 1;
  const values = [...symAmt.values()];
  if (values.every((v) => Number.isInteger(v))) factor = values.reduce((g, v) => gcd(g, v), 0);
  let polyanion = '';
  const n = syms.length;
  if (n >= 3 && electronegativity(syms[n - 1]) - electronegativity(syms[n - 2]) < 1.65) {
    const poly = new Map<string, number>([
      [syms[n - 2], symAmt.get(syms[n - 2])! / factor],
      [syms[n - 1], symAmt.get(syms[n - 1])! / factor],
    ]);
    const inner = reduceFormula(poly);
    if (inner.factor !== 1) polyanion = `(${inner.formula})${inner.factor}`;
  }
  if (polyanion) syms = syms.slice(0, n - 2);
  const parts = syms.map((s) => s + formulaDoubleFormat(symAmt.get(s)! / factor));
  return { formula: parts.join('') + polyanion, factor };
}

function significantEntries(comp: Composition): [string, number][] {
  return Object.entries(comp).filter(([, v]) => Math.abs(v) >= AMOUNT_TOLERANCE);
}

/**
 * The reduced formula of a composition exactly as pymatgen's `Composition.reduced_formula` writes it: elements by
 * increasing electronegativity, amounts divided by their gcd, a trailing polyatomic group in parentheses when its two
 * elements are close in electronegativity (Mg(PtO2)3), the special molecules (O2, H2O2, Li2O2, ...), and for
 * non-integer amounts every amount written out (Li0.5Co1O2). Element order of `comp` (insertion order) matters only
 * for He, Ne, Ar and Z >= 104, as in pymatgen.
 */
export function reducedFormula(comp: Composition): string {
  const entries = significantEntries(comp);
  if (entries.length === 0) return '';
  const allInt = entries.every(([, v]) => Math.abs(v - Math.round(v)) < AMOUNT_TOLERANCE);
  if (!allInt) {
    const amounts = new Map(entries);
    const syms = pythonSort([...amounts.keys()], (a, b) => electronegativity(a) < electronegativity(b));
    return syms.map((s) => s + formulaDoubleFormat(amounts.get(s)!, false)).join('');
  }
  const { formula } = reduceFormula(new Map(entries.map(([s, v]) => [s, Math.round(v)])));
  return SPECIAL_FORMULAS[formula] ?? formula;
}
