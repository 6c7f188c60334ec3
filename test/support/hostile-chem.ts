/**
 * Hostile chemistry for the HTTP fuzz suite and bench:hostile: formulas, CIF and POSCAR text and pymatgen dicts, each
 * a mutation of a valid one (test/data/chem/structures and a few task structures) or made from scratch. Every
 * arbitrary yields one material input object as a client would send it.
 */
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTaskRows } from '../../scripts/lib/tasks.js';

const STRUCTURES = new URL('../data/chem/structures/', import.meta.url).pathname;
const files = readdirSync(STRUCTURES).filter((f) => f !== 'expected.json');
const read = (f: string) => readFileSync(join(STRUCTURES, f), 'utf8');

export const CIFS: readonly string[] = files.filter((f) => f.endsWith('.cif')).map(read);
export const POSCARS: readonly string[] = files.filter((f) => f.endsWith('.poscar') && !f.includes('vasp4')).map(read);
export const VASP4_POSCARS: readonly string[] = files.filter((f) => f.includes('vasp4')).map(read);
/** pymatgen dicts: the fixtures, and three real 2D crystals of a paper task. */
export const STRUCTURE_DICTS: readonly unknown[] = [
  ...files.filter((f) => f.endsWith('.json')).map((f) => JSON.parse(read(f)) as unknown),
  ...readTaskRows('jarvis_2d_gap_opt').slice(0, 3).map((r) => r.structure),
];
export const FORMULAS = ['GaAs', 'Fe2O3', 'Ca(OH)2', 'CuSO4·5H2O', 'Li0.5CoO2', 'NaCl', 'K4CdP2', 'Mg13Ir3', 'Ba1Te1', 'Si3Mo5', 'H2O', '(NH4)2SO4'];

/** Numbers a parser may choke on, as text. */
const HOSTILE_NUMBER_TEXT = ['1e308', '-1e308', '1e400', 'nan', 'NaN', '-inf', 'Infinity', '0', '-0', '1e-320', '5e-324', '99999999999', '1e15', '1e-7',
  '-5', '', '1/0', '0x10', '1,5', '٣', '1e', '.', '+-1', '9'.repeat(400)];
/** Numbers as JSON values (non-finite ones cannot be JSON; null stands in). */
const HOSTILE_NUMBERS = [1e308, -1e308, 0, -0, 5e-324, 1e-320, 2 ** 53 + 1, -1, 1e15, 1e-7, 1e6, 123456789.123, 0.5];

/** Strings that have broken parsers and databases: NUL, lone surrogates, controls, right-to-left, very long. */
export const HOSTILE_STRINGS = ['\u0000', 'a\u0000b', '\ud800', '\udfff', '\u202e', '\u0007\u001b[31m', '\r\n\r\n', '\\', '"', "'", '%00', '%zz', '../../etc/passwd',
  '💥', 'Ｆｅ２Ｏ３', ' ', '', 'x'.repeat(10_000), '(((((((((((((((((((((((((((((', ')'.repeat(50), '1'.repeat(400), 'Fe'.repeat(2_000)];

export const hostileString = (): fc.Arbitrary<string> => fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
);

export const hostileNumber = (): fc.Arbitrary<number> => fc.oneof(fc.constantFrom(...HOSTILE_NUMBERS), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer());

/** Any JSON value, hostile leaves included. */
export const hostileJson = (maxDepth = 4): fc.Arbitrary<unknown> => fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof({ depthSize: 'small', maxDepth },
    fc.constant(null), fc.boolean(), hostileNumber(), hostileString(),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(fc.constantFrom('formula', 'structure', 'cif', 'poscar', 'species', 'target', 'id', 'lattice', 'sites', 'matrix', '__proto__', 'constructor'), hostileString()), tie('v'), { maxKeys: 5 })),
})).v;

/** One edit of a text: cut it short, drop, repeat or swap lines, replace a number, insert hostile characters. */
export function mutateText(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(text, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 6 }), fc.constantFrom(...HOSTILE_NUMBER_TEXT), hostileString()).map(([t, a, b, op, num, s]) => {
    const lines = t.split('\n');
    const i = a % lines.length;
    const j = b % lines.length;
    switch (op) {
      case 0: return t.slice(0, a % (t.length + 1));
      case 1: return lines.filter((_, k) => k !== i).join('\n');
      case 2: return [...lines.slice(0, i), ...Array<string>(1 + (b % 200)).fill(lines[i]), ...lines.slice(i + 1)].join('\n');
      case 3: { const swapped = [...lines]; [swapped[i], swapped[j]] = [swapped[j], swapped[i]]; return swapped.join('\n'); }
      case 4: {
        const numbers = [...t.matchAll(/-?\d+(\.\d+)?([eE][+-]?\d+)?/g)];
        if (numbers.length === 0) return t + num;
        const m = numbers[b % numbers.length];
        return t.slice(0, m.index) + num + t.slice(m.index + m[0].length);
      }
      case 5: { const at = a % (t.length + 1); return t.slice(0, at) + s + t.slice(at); }
      default: return t.replace(/\n/g, b % 2 === 0 ? '\r' : '\r\n');
    }
  });
}

/** A deep copy of a JSON value with the value at a random path replaced (or removed, with `undefined`). */
function replaceAt(value: unknown, path: readonly number[], replacement: unknown): unknown {
  if (path.length === 0 || value === null || typeof value !== 'object') return replacement;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return replacement;
  const k = path[0] % entries.length;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  const key = entries[k][0];
  const next = replaceAt(entries[k][1], path.slice(1), replacement);
  if (next === undefined && !Array.isArray(copy)) delete copy[key];
  else (copy as Record<string, unknown>)[key] = next;
  return copy;
}

interface Dict { lattice?: { matrix?: number[][] }; sites?: unknown[] }

/** One edit of a pymatgen dict: a value anywhere replaced or removed, the cell scaled absurdly, sites repeated or stacked. */
export function mutateStructure(dict: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.tuple(dict, fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 4 }), fc.oneof(hostileJson(2), fc.constant(undefined)),
    fc.constantFrom(0, 1e-3, 0.3, 3, 1e3, -1), fc.integer({ min: 2, max: 40 })).map(([d, path, op, replacement, scale, times]) => {
    const s = JSON.parse(JSON.stringify(d)) as Dict;
    switch (op) {
      case 0: case 1: return replaceAt(s, path, replacement);
      case 2:
        if (s.lattice?.matrix) s.lattice.matrix = s.lattice.matrix.map((row) => row.map((x) => x * scale));
        return s;
      case 3:
        if (Array.isArray(s.sites)) s.sites = Array.from({ length: times }, () => s.sites!).flat().slice(0, 400);
        return s;
      default:
        // Every site on top of the first one.
        if (Array.isArray(s.sites) && s.sites.length > 0) s.sites = s.sites.map((site) => ({ ...(site as object), abc: (s.sites![0] as { abc?: unknown }).abc, xyz: (s.sites![0] as { xyz?: unknown }).xyz }));
        return s;
    }
  });
}

const formulaChars = fc.constantFrom(...'ABCDEFGHIKLMNOPRSTUVWXYZabcdefghiklmnoprstuy0123456789().·*[]{}-+ ,;\u0000\t\n'.split(''), '·', '₂', 'Ⅲ', '\ud800');

/** One material input: a formula, CIF, POSCAR (with species for VASP 4) or pymatgen dict, valid or mutated. */
export const hostileMaterial = (): fc.Arbitrary<Record<string, unknown>> => fc.oneof(
  fc.oneof(mutateText(fc.constantFrom(...FORMULAS)), fc.string({ unit: formulaChars, maxLength: 30 }), fc.constantFrom(...FORMULAS)).map((formula) => ({ formula })),
  mutateText(fc.constantFrom(...CIFS)).map((cif) => ({ cif })),
  mutateText(fc.constantFrom(...POSCARS)).map((poscar) => ({ poscar })),
  fc.tuple(mutateText(fc.constantFrom(...VASP4_POSCARS)), fc.array(fc.oneof(fc.constantFrom('Ga', 'As', 'Na', 'Xx', 'Te', 'Ba'), hostileString()), { minLength: 1, maxLength: 4 }))
    .map(([poscar, species]) => ({ poscar, species })),
  mutateStructure(fc.constantFrom(...STRUCTURE_DICTS)).map((structure) => ({ structure })),
);
