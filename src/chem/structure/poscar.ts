import { ChemError, type Site, type Structure } from '../types.js';
import { refuseNulText } from '../input-guard.js';
import { checkCell } from './cell.js';
import { det3, inv3, vecMat, type Mat3, type Vec3 } from './lattice.js';
import { checkTextLength, finishStructure, resolveLimits, tooManySites, type StructureLimits } from './limits.js';
import { elementOfPoscarSymbol } from './species.js';

export interface PoscarOptions {
  /** Element of each species block, for VASP 4 files that have no species line (as in the POTCAR order). */
  species?: string[];
}

function poscarError(code: string, message: string, line?: number): ChemError {
  return new ChemError(code, line ? `POSCAR line ${line}: ${message}` : `POSCAR: ${message}`, line);
}

/** Fortran-style real: 1.0, -2.5e-3, 1.0D0. */
function real(token: string | undefined): number | undefined {
  if (token === undefined || token.length > 64 || !/^[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?$/.test(token)) return undefined;
  return Number(token.replace(/[dD]/, 'e'));
}

function tokens(line: string | undefined): string[] {
  return (line ?? '').trim().split(/\s+/).filter((t) => t !== '');
}

function numbers(line: string | undefined, count: number, lineNo: number, what: string, code: string): number[] {
  const t = tokens(line);
  const out = t.slice(0, count).map(real);
  if (out.length < count || out.some((x) => x === undefined)) {
    throw poscarError(code, `expected ${count} numbers for ${what}, found "${(line ?? '').trim().slice(0, 60)}"`, lineNo);
  }
  if (out.some((x) => !Number.isFinite(x))) throw poscarError('structure_non_finite', `${what} contains a non-finite number`, lineNo);
  return out as number[];
}

function flag(token: string | undefined): boolean | undefined {
  if (token === undefined) return undefined;
  const t = token.toUpperCase();
  if (t === 'T' || t === '.TRUE.' || t === 'TRUE') return true;
  if (t === 'F' || t === '.FALSE.' || t === 'FALSE') return false;
  return undefined;
}

/**
 * Reads a VASP POSCAR / CONTCAR: comment, scale (one factor, a negative target volume in Å³, or three per-axis factors),
 * lattice, species line (VASP 5; for VASP 4 files pass `opts.species`), counts, optional "Selective dynamics" (kept
 * as the site property `selective_dynamics`, as pymatgen does), Direct or Cartesian coordinates.
 */
export function parsePoscar(text: string, limits?: Partial<StructureLimits>, opts?: PoscarOptions): Structure {
  const lim = resolveLimits(limits);
  if (typeof text !== 'string') throw new ChemError('structure_invalid', 'the POSCAR must be text');
  checkTextLength(text, 'POSCAR');
  refuseNulText(text, 'the POSCAR', 'line');
  if (opts?.species !== undefined) {
    const list: unknown = opts.species;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
      throw new ChemError('structure_invalid', 'POSCAR: "species" must be a list of element symbols, e.g. ["Ga", "As"]');
    }
    for (const sp of list) refuseNulText(sp, 'the "species" list', 'character');
  }
  const lines = text.split(/\r?\n/);
  if (lines.every((l) => l.trim() === '')) throw poscarError('poscar_too_short', 'the POSCAR is empty');
  while (lines[lines.length - 1].trim() === '') lines.pop();
  // blank lines pasted above the file are dropped, unless the blank first line is the (empty) comment before the scale
  const isScaleLine = (l: string | undefined): boolean => {
    const t = tokens(l);
    return (t.length === 1 || t.length === 3) && t.every((x) => real(x) !== undefined);
  };
  if (!(lines[0].trim() === '' && isScaleLine(lines[1]))) {
    while (lines[0].trim() === '') lines.shift();
  }
  const need = (i: number, what: string): string => {
    if (i >= lines.length) throw poscarError('poscar_too_short', `the file ends before ${what}`, i + 1);
    if (lines[i].trim() === '') throw poscarError('poscar_syntax', `empty line where ${what} should be`, i + 1);
    return lines[i];
  };
  const warnings: string[] = [];

  const scaleTokens = tokens(need(1, 'the scale factor'));
  const scaleCount = scaleTokens.length >= 3 && real(scaleTokens[1]) !== undefined && real(scaleTokens[2]) !== undefined ? 3 : 1;
  const scale = numbers(lines[1], scaleCount, 2, 'the scale factor', 'poscar_bad_scale');
  if (scale.some((s) => s === 0) || (scaleCount === 3 && scale.some((s) => s < 0))) {
    throw poscarError('poscar_bad_scale', `scale factor ${scale.join(' ')} is not allowed (use a positive factor or a negative target volume)`, 2);
  }
  const raw = [2, 3, 4].map((i) => numbers(need(i, 'the three lattice vectors'), 3, i + 1, `lattice vector ${'abc'[i - 2]}`, 'poscar_bad_lattice')) as Mat3;

  let axisScale: Vec3;
  if (scaleCount === 3) axisScale = scale as Vec3;
  else if (scale[0] > 0) axisScale = [scale[0], scale[0], scale[0]];
  else {
    // a negative scale is the cell volume wanted (Å³): check the unscaled cell first, or the division below is by ~0
    checkCell(raw, { where: 'POSCAR (lattice vectors before scaling)', line: 3 });
    const f = Math.cbrt(-scale[0] / Math.abs(det3(raw)));
    axisScale = [f, f, f];
  }
  const lattice = raw.map((row) => row.map((x, k) => x * axisScale[k])) as Mat3;
  checkCell(lattice, { where: `POSCAR (lattice vectors times the scale factor ${scale.join(' ')})`, line: 3 });

  // VASP 5 has a species line before the counts; VASP 4 goes straight to the counts
  let line = 5;
  const first = tokens(need(line, 'the species or counts line'));
  let species: string[];
  if (/^\d+$/.test(first[0])) {
    if (!opts?.species || opts.species.length === 0) {
      throw poscarError('poscar_missing_species', 'this is a VASP 4 file without a species line: send "species" with the element of each atom block (in POTCAR order), e.g. ["Ga", "As"], or add the species line above the counts', 6);
    }
    species = opts.species;
  } else {
    species = first;
    line++;
  }
  const countTokens = tokens(need(line, 'the atom counts'));
  const counts = countTokens.map((t) => (/^\d+$/.test(t) ? Number(t) : NaN));
  if (counts.length === 0 || counts.some((c) => !Number.isSafeInteger(c) || c < 1)) {
    throw poscarError('poscar_bad_counts', `atom counts must be positive whole numbers, found "${lines[line].trim().slice(0, 60)}"`, line + 1);
  }
  if (counts.length !== species.length) {
    throw poscarError('poscar_species_mismatch', `${species.length} species (${species.join(' ').slice(0, 60)}) but ${counts.length} atom counts`, line + 1);
  }
  const elements = species.map((s) => {
    const el = elementOfPoscarSymbol(s);
    if (!el) throw new ChemError('structure_unknown_element', `POSCAR: species "${s.slice(0, 20)}" is not a chemical element`, line);
    return el;
  });
  if (Array.isArray(opts?.species) && species !== opts.species) {
    const given = opts.species.map(elementOfPoscarSymbol);
    if (given.join(' ') !== elements.join(' ')) warnings.push(`the POSCAR names its species (${elements.join(' ')}); the species given separately were ignored`);
  }
  const total = counts.reduce((a, b) => a + b, 0);
  if (total > lim.maxSites) throw tooManySites(total, lim, 'the POSCAR', line + 1);
  line++;

  let selective = false;
  if (/^\s*s/i.test(need(line, 'the coordinate mode'))) {
    selective = true;
    line++;
  }
  const mode = need(line, 'the coordinate mode (Direct or Cartesian)').trim();
  const cartesian = /^[ck]/i.test(mode);
  line++;

  const inverse = cartesian ? inv3(lattice) : undefined; // checkCell above guarantees a volume
  const sites: Site[] = [];
  let block = 0;
  let left = counts[0];
  for (let i = 0; i < total; i++, line++) {
    while (left === 0) left = counts[++block];
    left--;
    const l = need(line, `the coordinates of atom ${i + 1} of ${total}`);
    const xyz = numbers(l, 3, line + 1, `the coordinates of atom ${i + 1}`, 'poscar_bad_coordinates') as Vec3;
    const frac = cartesian ? vecMat([xyz[0] * axisScale[0], xyz[1] * axisScale[1], xyz[2] * axisScale[2]], inverse!) : xyz;
    const site: Site = { species: [{ element: elements[block], occu: 1 }], frac };
    if (selective) {
      const t = tokens(l);
      const flags = [flag(t[3]), flag(t[4]), flag(t[5])];
      if (flags.some((f) => f === undefined)) {
        throw poscarError('poscar_bad_selective_dynamics', `selective dynamics needs three T/F flags after the coordinates of atom ${i + 1}`, line + 1);
      }
      site.properties = { selective_dynamics: flags as boolean[] };
    }
    sites.push(site);
  }
  return finishStructure(lattice, sites, warnings, lim, 'the POSCAR');
}
