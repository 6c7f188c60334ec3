/**
 * Chemistry-level fuzzing (issue 14): whatever a client sends, resolveInput returns a resolved input or throws a
 * ChemError (a 422 with a stable code), never another error and never a hang; and what it accepts makes physical
 * sense: fractions sum to 1, no element below the amount limits, a reduced formula naming the same elements in the
 * same proportions, occupancies in (0, 1], no two sites closer than 0.5 Å, and a neighbour graph that can be built.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MIN_ATOMIC_FRACTION, MIN_ELEMENT_AMOUNT } from '../../src/chem/composition.js';
import { parseFormula } from '../../src/chem/formula.js';
import { resolveInput, type MaterialInput, type ResolvedInput } from '../../src/chem/input.js';
import { buildNeighborGraph } from '../../src/chem/neighbors.js';
import { MIN_PLANE_SPACING } from '../../src/chem/structure/cell.js';
import { MIN_SITE_DISTANCE } from '../../src/chem/structure/overlap.js';
import { ChemError, type Structure } from '../../src/chem/types.js';
import {
  CIF_SEEDS, DICT_EDIT, DICT_SEEDS, editDict, editText, FORMULA_SEEDS, HOSTILE_NUMBER_TEXT, nest, POSCAR_SEEDS, supercell,
  TASK_STRUCTURES, TEXT_EDIT, VASP4_SEEDS,
} from './fuzz-inputs.js';
import { toCif, toPoscar } from './structure-helpers.js';

/** A hang guard only (a real call takes milliseconds); correctness is asserted by the invariants, never by time. */
const HANG_GUARD_MS = 10_000;
/** Runs per property; FUZZ_RUNS raises it for a long hunt (the default keeps the suite at a few seconds). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 250);
// the failing assertion's message belongs in the report, beside the counterexample
fc.configureGlobal({ includeErrorInReport: true });
const CODE = /^[a-z]+(_[a-z0-9]+)+$/;

/** Runs resolveInput on one fuzzed input: a ChemError is a pass (with a code and a message); success must satisfy the invariants. */
function resolvesOrRefuses(input: unknown): void {
  const t0 = performance.now();
  let r: ResolvedInput | undefined;
  try {
    r = resolveInput(input as MaterialInput);
  } catch (e) {
    if (!(e instanceof ChemError)) throw e;
    assert.match(e.code, CODE);
    assert.ok(e.message.length > 10 && !e.message.includes('\0'), `bad message for ${e.code}: ${JSON.stringify(e.message)}`);
    assert.equal(e.status, 422);
  }
  if (r) checkResolved(r);
  assert.ok(performance.now() - t0 < HANG_GUARD_MS, 'hang guard');
}

function checkResolved(r: ResolvedInput): void {
  const fractions = Object.entries(r.composition);
  assert.ok(fractions.length > 0);
  assert.ok(Math.abs(fractions.reduce((a, [, f]) => a + f, 0) - 1) < 1e-9, 'fractions sum to 1');
  for (const [el, f] of fractions) assert.ok(Number.isFinite(f) && f >= MIN_ATOMIC_FRACTION, `${el} fraction ${f}`);
  // the reduced formula holds the same elements in the same proportions (up to its 8-decimal rounding)
  const back = parseFormula(r.formula);
  assert.deepEqual(Object.keys(back.fractions).sort(), fractions.map(([el]) => el).sort(), `${r.formula} vs ${JSON.stringify(r.composition)}`);
  const tol = (fractions.length * 1e-8) / back.nAtoms + 1e-12;
  for (const [el, f] of fractions) assert.ok(Math.abs(back.fractions[el] - f) <= tol, `${r.formula}: ${el} ${back.fractions[el]} vs ${f}`);
  if (r.structure) checkStructure(r.structure);
}

function checkStructure(s: Structure): void {
  const amounts: Record<string, number> = {};
  for (const site of s.sites) {
    assert.ok(site.frac.every(Number.isFinite));
    let total = 0;
    for (const { element, occu } of site.species) {
      assert.ok(occu >= MIN_ELEMENT_AMOUNT && occu <= 1, `occupancy ${occu}`);
      total += occu;
      amounts[element] = (amounts[element] ?? 0) + occu;
    }
    assert.ok(total <= 1 + 1e-12, `site occupancies add up to ${total}`);
  }
  if (s.sites.length <= 40) {
    const d = bruteForceMinDistance(s);
    // 1e-9: at exactly 0.5 Å (a 0.5 Å cell edge) the two ways of computing the distance round differently
    assert.ok(d >= MIN_SITE_DISTANCE - 1e-9, `two sites ${d} Å apart`);
  }
  // a structure that parsed has a neighbour graph, or a ChemError that says why not (never a RangeError or a hang)
  try {
    const g = buildNeighborGraph(s);
    assert.equal(g.nSites, s.sites.length);
  } catch (e) {
    if (!(e instanceof ChemError)) throw e;
  }
}

/**
 * Smallest distance between two sites or a site and its own image: every lattice translation that could bring an
 * image within MIN_SITE_DISTANCE (|n_k| < 0.5 / plane spacing_k + 0.5 along each axis), for every pair. Independent of
 * the binned search the parser uses.
 */
function bruteForceMinDistance(s: Structure): number {
  const L = s.lattice;
  const cross = (u: number[], v: number[]): number[] => [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
  const vol = Math.abs(L[0][0] * (L[1][1] * L[2][2] - L[1][2] * L[2][1]) - L[0][1] * (L[1][0] * L[2][2] - L[1][2] * L[2][0]) + L[0][2] * (L[1][0] * L[2][1] - L[1][1] * L[2][0]));
  const spacings = [cross(L[1], L[2]), cross(L[2], L[0]), cross(L[0], L[1])].map((c) => vol / Math.hypot(c[0], c[1], c[2]));
  // an accepted cell is never this thin, and the loops below would not end for one that is
  assert.ok(Math.min(...spacings) >= MIN_PLANE_SPACING, `lattice planes ${Math.min(...spacings)} Å apart`);
  const reach = spacings.map((d) => Math.ceil(MIN_SITE_DISTANCE / d + 0.5));
  let best = Infinity;
  for (let i = 0; i < s.sites.length; i++) {
    for (let j = i; j < s.sites.length; j++) {
      const df = s.sites[j].frac.map((x, k) => x - s.sites[i].frac[k]).map((x) => x - Math.round(x));
      for (let a = -reach[0]; a <= reach[0]; a++) {
        for (let b = -reach[1]; b <= reach[1]; b++) {
          for (let c = -reach[2]; c <= reach[2]; c++) {
            if (i === j && a === 0 && b === 0 && c === 0) continue;
            const u = [df[0] + a, df[1] + b, df[2] + c];
            const p = [0, 1, 2].map((k) => u[0] * L[0][k] + u[1] * L[1][k] + u[2] * L[2][k]);
            best = Math.min(best, Math.hypot(p[0], p[1], p[2]));
          }
        }
      }
    }
  }
  return best;
}

describe('fuzz: formulas', () => {
  it('arbitrary strings (any code point, NUL included)', () => {
    const alphabet = fc.constantFrom(...'()[]{}·*@ .-+0123456789eEFeOHCNaCl\0\t'.split(''));
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: alphabet, maxLength: 60 }));
    fc.assert(fc.property(text, (formula) => resolvesOrRefuses({ formula })), { numRuns: RUNS });
  });

  it('reference formulas with hostile amounts, multipliers and hydrate coefficients', () => {
    const edit = fc.record({
      formula: fc.constantFrom(...FORMULA_SEEDS),
      amount: HOSTILE_NUMBER_TEXT,
      where: fc.constantFrom('append', 'group', 'hydrate', 'replace'),
      at: fc.nat(),
    });
    fc.assert(
      fc.property(edit, ({ formula, amount, where, at }) => {
        const numbers = [...formula.matchAll(/\d*\.?\d+(?:e-?\d+)?/g)];
        const m = numbers.length > 0 ? numbers[at % numbers.length] : undefined;
        const written =
          where === 'append' ? `${formula}Fe${amount}` :
          where === 'group' ? `(${formula})${amount}` :
          where === 'hydrate' ? `${formula}·${amount}H2O` :
          m ? formula.slice(0, m.index) + amount + formula.slice(m.index + m[0].length) : formula;
        resolvesOrRefuses({ formula: written });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('fuzz: CIF, POSCAR and pymatgen structures', () => {
  it('CIFs (test files and task structures) with hostile numbers, NULs and broken lines', () => {
    const arb = fc.tuple(fc.constantFrom(...CIF_SEEDS), fc.array(TEXT_EDIT, { minLength: 1, maxLength: 3 }));
    fc.assert(fc.property(arb, ([cif, edits]) => resolvesOrRefuses({ cif: editText(cif, edits) })), { numRuns: RUNS });
  });

  it('POSCARs (VASP 5 and VASP 4 with a species list) with hostile scale factors, lattices, counts and coordinates', () => {
    const vasp5 = fc.tuple(fc.constantFrom(...POSCAR_SEEDS), fc.array(TEXT_EDIT, { minLength: 1, maxLength: 3 })).map(([poscar, edits]) => ({ poscar: editText(poscar, edits) }));
    const species = fc.oneof(fc.constantFrom(['Fe', 'O'], ['Fe\0'], [], ['Xx', 'O', 'Fe']), fc.array(fc.string({ unit: 'binary', maxLength: 4 }), { maxLength: 4 }));
    const vasp4 = fc.tuple(fc.constantFrom(...VASP4_SEEDS), fc.array(TEXT_EDIT, { maxLength: 2 }), fc.option(species, { nil: undefined }))
      .map(([seed, edits, sp]) => ({ poscar: editText(seed.poscar, edits), species: sp ?? seed.species }));
    fc.assert(fc.property(fc.oneof(vasp5, vasp4), (input) => resolvesOrRefuses(input)), { numRuns: RUNS });
  });

  it('pymatgen dicts with hostile values, missing keys, string-typed numbers and deep nesting (also as JSON text)', () => {
    const arb = fc.tuple(fc.constantFrom(...DICT_SEEDS), fc.array(DICT_EDIT, { minLength: 1, maxLength: 4 }), fc.boolean());
    fc.assert(
      fc.property(arb, ([seed, edits, asText]) => {
        const structure = editDict(seed, edits);
        resolvesOrRefuses({ structure: asText ? JSON.stringify(structure) ?? 'null' : structure });
      }),
      { numRuns: RUNS },
    );
  });

  it('large structures within the site limit: supercells up to 500 sites, some with one site moved onto another', () => {
    const arb = fc.tuple(fc.constantFrom(...TASK_STRUCTURES), fc.integer({ min: 50, max: 500 }), fc.boolean(), fc.constantFrom('structure', 'cif', 'poscar'));
    fc.assert(
      fc.property(arb, ([seed, maxSites, collide, kind]) => {
        const s = supercell(seed, maxSites, collide);
        const input = kind === 'structure' ? { structure: s } : kind === 'cif' ? { cif: toCif(s) } : { poscar: toPoscar(s) };
        resolvesOrRefuses(input);
        // two atoms 1e-4 of a cell edge apart: a CIF merges them into one site (and refuses the occupancy sum of 2)
        if (collide) assert.equal(codeOf(input), kind === 'cif' ? 'cif_overlapping_atoms' : 'sites_overlap');
        else assert.equal(codeOf(input), undefined);
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  it('random lattices and coordinates: tiny, huge, flat, skewed and inverted cells', () => {
    const num = fc.oneof(fc.double({ min: -50, max: 50, noNaN: true }), fc.constantFrom(0, 1e-9, 1e-3, 0.3, 1e3, 1e6, 1e308, -1e308));
    const lattice = fc.array(fc.array(num, { minLength: 3, maxLength: 3 }), { minLength: 3, maxLength: 3 });
    const site = fc.record({ species: fc.constant([{ element: 'Si', occu: 1 }]), abc: fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 3, maxLength: 3 }) });
    fc.assert(fc.property(lattice, fc.array(site, { minLength: 1, maxLength: 30 }), (matrix, sites) => resolvesOrRefuses({ structure: { lattice: { matrix }, sites } })), { numRuns: RUNS });
  });
});

describe('fuzz: the shape of an input', () => {
  it('arbitrary values under the input keys, and arbitrary top-level values', () => {
    const value = fc.oneof(fc.anything({ maxDepth: 4 }), fc.string({ unit: 'binary' }), fc.integer({ min: 1, max: 80 }).map(nest));
    const input = fc.oneof(
      fc.record({ formula: value, structure: value, cif: value, poscar: value, species: value }, { requiredKeys: [] }),
      fc.anything(),
    );
    fc.assert(fc.property(input, (x) => resolvesOrRefuses(x)), { numRuns: RUNS });
  });
});

function codeOf(input: MaterialInput): string | undefined {
  try {
    resolveInput(input);
    return undefined;
  } catch (e) {
    return e instanceof ChemError ? e.code : `not a ChemError: ${String(e)}`;
  }
}
