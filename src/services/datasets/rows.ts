/**
 * One dataset row checked and normalised: exactly one input (formula, structure, CIF or POSCAR, with species for a
 * VASP 4 POSCAR), read by the chemistry module; a finite target; an optional id. Every problem of a row is reported.
 */
import { INPUT_KINDS, inputKind, resolveInput, SPECIES_LIMITS, type InputKind, type MaterialInput } from '../../chem/input.js';
import { ChemError } from '../../chem/types.js';
import type { DatasetRowRecord } from '../../db/dataset-queries.js';
import { MAX_ABS_TARGET, MAX_ROW_ID_LENGTH, type RawRow } from './limits.js';

const ROW_KEYS = new Set<string>([...INPUT_KINDS, 'species', 'target', 'id']);

type Problem = { code: string; message: string };

/** A target written as text (CSV): plain decimal or scientific notation; NaN, infinities and blanks are errors. */
export function parseTargetText(text: string): number | Problem {
  const t = text.trim();
  if (t === '') return { code: 'target_missing', message: 'the target is empty' };
  if (/^[+-]?(nan|inf|infinity)$/i.test(t)) return { code: 'target_not_finite', message: `the target "${t}" is not a finite number` };
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(t)) return { code: 'target_not_number', message: `the target "${t}" is not a number` };
  return checkTargetRange(Number(t), `"${t}"`);
}

/** A finite target within ±MAX_ABS_TARGET; `shown` is how the row wrote it. */
function checkTargetRange(n: number, shown: string): number | Problem {
  if (!Number.isFinite(n)) return { code: 'target_not_finite', message: `the target ${shown} is not a finite number` };
  if (Math.abs(n) > MAX_ABS_TARGET) return { code: 'target_out_of_range', message: `the target ${shown} is out of range: |target| must be at most ${MAX_ABS_TARGET}` };
  return n;
}

function checkTarget(value: unknown, fromText: boolean): number | Problem {
  if (value === undefined || value === null) return { code: 'target_missing', message: 'the row has no "target"' };
  if (typeof value === 'number') return checkTargetRange(value, String(value));
  if (typeof value === 'string' && fromText) return parseTargetText(value);
  return { code: 'target_not_number', message: `the target must be a number, got ${typeof value === 'string' ? `the string "${value.slice(0, 40)}"` : typeof value}` };
}

function checkId(value: unknown, fromText: boolean): string | null | Problem {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return { code: 'row_id_invalid', message: '"id" must be a string or a number' };
  const id = value.trim();
  if (id === '' && fromText) return null;
  if (id.length === 0 || id.length > MAX_ROW_ID_LENGTH) return { code: 'row_id_invalid', message: `"id" must be 1 to ${MAX_ROW_ID_LENGTH} characters` };
  if (id.includes('\u0000')) return { code: 'row_id_invalid', message: '"id" contains a NUL character' };
  return id;
}

/** Deeper nesting is no input anyone writes (a pymatgen dict is about 6 levels deep) and overflowed the recursive hashing (a 500). */
const MAX_INPUT_DEPTH = 32;

/** U+0000, or half of a surrogate pair on its own: text PostgreSQL's jsonb refuses (a 500 when it reached the insert). */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A character jsonb cannot store anywhere in the input, in a key or a value, or nesting beyond MAX_INPUT_DEPTH;
 * walked with an explicit stack, so no input can overflow the call stack here.
 */
function inputProblem(input: unknown): Problem | undefined {
  const unstorable: Problem = { code: 'input_invalid_character', message: 'the input contains a NUL character or an unpaired surrogate (text that is not valid Unicode)' };
  const stack: [unknown, number][] = [[input, 0]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [v, depth] = next;
    if (typeof v === 'string' && UNSTORABLE.test(v)) return unstorable;
    if (v === null || typeof v !== 'object') continue;
    if (depth === MAX_INPUT_DEPTH) return { code: 'input_too_deep', message: `the input is nested more than ${MAX_INPUT_DEPTH} levels deep` };
    for (const [k, x] of Object.entries(v)) {
      if (UNSTORABLE.test(k)) return unstorable;
      stack.push([x, depth + 1]);
    }
  }
  return undefined;
}

const isProblem = (x: unknown): x is Problem => typeof x === 'object' && x !== null && 'code' in x && 'message' in x;

/** A VASP 4 POSCAR's block elements: a list in JSON rows, "Ga As" or "Ga,As" in a CSV cell. */
function rowSpecies(value: unknown, fromText: boolean): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = fromText && typeof value === 'string' ? value.trim().split(/[\s,;]+/) : value;
  if (!Array.isArray(list) || list.length === 0 || list.length > SPECIES_LIMITS.maxBlocks || !list.every((s) => typeof s === 'string' && s.length > 0 && s.length <= SPECIES_LIMITS.maxSymbolLength)) {
    throw new ChemError('species_invalid', '"species" must list element symbols, one per atom block of the POSCAR, e.g. ["Ga", "As"] (in a CSV cell: "Ga As")');
  }
  return list as string[];
}

/**
 * Validates one row and returns what is stored: the input normalised (formula trimmed, CIF/POSCAR line endings as
 * LF, structure as given) with its kind, reduced formula and target. Returns every problem of the row, not just the first.
 */
/** A row of an unlabelled dataset has no target: absent, null, or an empty CSV cell. */
export function hasTarget(value: unknown, fromText: boolean): boolean {
  return !(value === undefined || value === null || (fromText && typeof value === 'string' && value.trim() === ''));
}

export function validateRow(raw: RawRow, fromText: boolean, labelled = true): { row?: Omit<DatasetRowRecord, 'index'>; warnings: string[]; problems: Problem[] } {
  if (raw.errors && raw.errors.length > 0) return { problems: raw.errors, warnings: [] };
  const v = raw.value;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    return { problems: [{ code: 'row_not_object', message: `a row must be an object like {"formula": "GaAs", "target": 1.42}, got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}` }], warnings: [] };
  }
  const o = v as Record<string, unknown>;
  const problems: Problem[] = [];
  const unknown = Object.keys(o).filter((k) => !ROW_KEYS.has(k));
  if (unknown.length > 0) {
    problems.push({ code: 'row_unknown_field', message: `unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')}; a row has one of formula, structure, cif or poscar (with species for a VASP 4 POSCAR), a target and optionally an id` });
  }

  const given: Record<string, unknown> = {};
  for (const kind of INPUT_KINDS) {
    const x = o[kind];
    if (x === undefined || x === null || (fromText && typeof x === 'string' && x.trim() === '')) continue;
    given[kind] = x;
  }
  let kind: InputKind | undefined;
  let input: Record<string, unknown> | undefined;
  try {
    kind = inputKind(given);
    let x = given[kind];
    if (kind === 'formula' && typeof x === 'string') x = x.trim();
    if ((kind === 'cif' || kind === 'poscar') && typeof x === 'string') x = x.replace(/\r\n?/g, '\n');
    if (kind === 'structure' && fromText && typeof x === 'string') {
      try {
        x = JSON.parse(x);
      } catch (err) {
        throw new ChemError('structure_invalid_json', `the structure cell is not valid JSON: ${(err as Error).message}`);
      }
    }
    const species = rowSpecies(o.species, fromText);
    input = species === undefined ? { [kind]: x } : { [kind]: x, species };
  } catch (err) {
    problems.push(err instanceof ChemError ? { code: err.code, message: err.message } : { code: 'input_invalid', message: (err as Error).message });
  }

  let formula: string | undefined;
  let warnings: string[] = [];
  if (kind && input) {
    const invalid = inputProblem(input);
    if (invalid) {
      problems.push(invalid);
    } else {
      try {
        const resolved = resolveInput(input as MaterialInput);
        formula = resolved.formula;
        warnings = resolved.warnings;
      } catch (err) {
        problems.push(err instanceof ChemError ? { code: err.code, message: err.message } : { code: 'input_invalid', message: `the ${kind} cannot be read: ${(err as Error).message}` });
      }
    }
  }

  // In an unlabelled dataset (inputs to screen) no row has a target; a labelled one needs one in every row.
  const target = labelled ? checkTarget(o.target, fromText) : null;
  if (isProblem(target)) problems.push(target);
  const id = checkId(o.id, fromText);
  if (isProblem(id)) problems.push(id);

  if (problems.length > 0 || !kind || !input || formula === undefined || isProblem(target) || isProblem(id)) return { problems, warnings };
  return { row: { kind, input, formula, target, externalId: id }, warnings, problems };
}
