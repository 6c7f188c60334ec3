import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { INPUT_KINDS, inputKind, resolveInput, SPECIES_LIMITS, type InputKind, type MaterialInput } from '../chem/input.js';
import { ChemError } from '../chem/types.js';
import type { DatasetRowRecord, NewDataset, TargetStats } from '../db/dataset-queries.js';
import { CsvSyntaxError, parseCsv } from './csv.js';

export interface DatasetLimits {
  /** Rows per dataset. */
  maxRows: number;
  /** Bytes of the upload (JSON body, or the file after gunzip). */
  maxBytes: number;
  /** Row errors listed in one response; the rest are counted. */
  maxErrorsListed: number;
  maxWarningsListed: number;
}

export const DATASET_LIMITS: Readonly<DatasetLimits> = {
  maxRows: 100_000,
  maxBytes: 50 * 1024 * 1024,
  maxErrorsListed: 1000,
  maxWarningsListed: 100,
};

export const MAX_NAME_LENGTH = 200;
export const MAX_PROPERTY_LENGTH = 200;
export const MAX_UNIT_LENGTH = 50;
export const MAX_ROW_ID_LENGTH = 200;

/**
 * What an upload can get wrong, without HTTP: `request` (malformed request, e.g. a missing field), `too_large`
 * (a limit), `unsupported` (a file format we do not read), `invalid` (content: bad rows, unreadable file).
 */
export type DatasetErrorKind = 'request' | 'too_large' | 'unsupported' | 'invalid';

export class DatasetError extends Error {
  constructor(
    readonly kind: DatasetErrorKind,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** One problem with one row; `index` is the 0-based row position, `line` the 1-based line of an uploaded file. */
export interface RowError {
  index: number;
  line?: number;
  code: string;
  message: string;
}

/** A row as read from the request or file, before validation. */
export interface RawRow {
  value: unknown;
  line?: number;
  /** Problems found while reading (bad JSON line, wrong CSV field count); the row is then not validated further. */
  errors?: { code: string; message: string }[];
}

export interface DatasetMeta {
  name: string;
  property: string;
  unit: string;
}

export interface DatasetWarning {
  index?: number;
  message: string;
}

export interface PreparedDataset extends NewDataset {
  rows: DatasetRowRecord[];
  warnings: DatasetWarning[];
}

export type UploadFormat = 'csv' | 'jsonl' | 'json';

export interface UploadedFile {
  buffer: Buffer;
  filename?: string;
  mimetype?: string;
  /** Explicit format from the form, overriding the file name and media type. */
  format?: string;
}

export interface ParsedUpload {
  format: UploadFormat;
  rows: RawRow[];
  /** CSV cells are text: targets and structure JSON are parsed from strings, empty cells are absent. */
  fromText: boolean;
  warnings: DatasetWarning[];
}

const ROW_KEYS = new Set<string>([...INPUT_KINDS, 'species', 'target', 'id']);

// ---------------------------------------------------------------------------------------------------------------
// Metadata

/** Checks name/property/unit given as form fields (the JSON body is checked by its schema); trims whitespace. */
export function checkMeta(fields: Readonly<Record<string, string | undefined>>): DatasetMeta {
  const errors: { path: string; message: string }[] = [];
  const field = (key: keyof DatasetMeta, min: number, max: number): string => {
    const raw = fields[key];
    if (raw === undefined) {
      errors.push({ path: `body/${key}`, message: `the "${key}" field is required` });
      return '';
    }
    const v = raw.trim();
    if (v.length < min || v.length > max) {
      errors.push({ path: `body/${key}`, message: min > 0 ? `"${key}" must be ${min} to ${max} characters` : `"${key}" must be at most ${max} characters` });
    }
    return v;
  };
  const meta = { name: field('name', 1, MAX_NAME_LENGTH), property: field('property', 1, MAX_PROPERTY_LENGTH), unit: field('unit', 0, MAX_UNIT_LENGTH) };
  for (const key of Object.keys(fields)) {
    if (!['name', 'property', 'unit', 'format'].includes(key)) errors.push({ path: `body/${key}`, message: `unknown form field "${key}" (use name, property, unit, format and one file)` });
  }
  if (errors.length > 0) throw new DatasetError('request', 'validation_failed', `the request ${errors[0].path} is invalid: ${errors[0].message}`, { errors });
  return meta;
}

// ---------------------------------------------------------------------------------------------------------------
// Files

/** gunzips when the bytes start with the gzip magic number, then decodes strict UTF-8 (a leading BOM is dropped). */
export function decodeUpload(buffer: Buffer, limits: DatasetLimits = DATASET_LIMITS): string {
  let bytes: Buffer = buffer;
  if (buffer.length >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b) {
    try {
      bytes = gunzipSync(buffer, { maxOutputLength: limits.maxBytes });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new DatasetError('too_large', 'dataset_too_large', `the file is larger than ${limits.maxBytes} bytes once decompressed`, { limit: limits.maxBytes });
      }
      throw new DatasetError('invalid', 'upload_bad_gzip', `the file looks gzip-compressed but cannot be decompressed: ${(err as Error).message}`);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DatasetError('invalid', 'upload_not_utf8', 'the file is not UTF-8 text');
  }
}

const FORMAT_ALIASES: Readonly<Record<string, UploadFormat>> = { csv: 'csv', jsonl: 'jsonl', ndjson: 'jsonl', json: 'json' };
const MEDIA_TYPES: Readonly<Record<string, UploadFormat>> = {
  'text/csv': 'csv', 'application/csv': 'csv', 'application/x-ndjson': 'jsonl', 'application/jsonl': 'jsonl',
  'application/x-jsonlines': 'jsonl', 'application/jsonlines': 'jsonl', 'application/json': 'json',
};

/** The `format` field wins, then the file extension (.gz ignored), then the media type, then the first character. */
export function detectFormat(file: Omit<UploadedFile, 'buffer'>, text: string): UploadFormat {
  if (file.format !== undefined) {
    const f = FORMAT_ALIASES[file.format.trim().toLowerCase()];
    if (!f) throw new DatasetError('unsupported', 'upload_format_unsupported', `format "${file.format}" is not supported; use csv, jsonl or json`);
    return f;
  }
  const name = (file.filename ?? '').toLowerCase().replace(/\.gz$/, '');
  const byExt = FORMAT_ALIASES[extname(name).slice(1)];
  if (byExt) return byExt;
  const byType = MEDIA_TYPES[(file.mimetype ?? '').split(';')[0].trim().toLowerCase()];
  if (byType) return byType;
  const first = /\S/.exec(text)?.[0];
  if (first === '{') return 'jsonl';
  if (first === '[') return 'json';
  return 'csv';
}

function tooManyRows(count: number, limits: DatasetLimits): DatasetError {
  return new DatasetError('too_large', 'dataset_too_many_rows', `the dataset has ${count} rows; at most ${limits.maxRows} are accepted`, { limit: limits.maxRows, rows: count });
}

/**
 * CSV with a header row: `target`, one or more input columns (`formula`, `cif`, `poscar`, `structure` as JSON text;
 * each row fills exactly one), optionally `species` (a VASP 4 POSCAR's block elements, "Ga As") and `id`. Header names are case-insensitive; other columns are ignored
 * with a warning.
 */
export function rowsFromCsv(text: string, limits: DatasetLimits = DATASET_LIMITS): { rows: RawRow[]; warnings: DatasetWarning[] } {
  let records;
  try {
    records = parseCsv(text);
  } catch (err) {
    if (err instanceof CsvSyntaxError) throw new DatasetError('invalid', err.code, err.message, { line: err.line });
    throw err;
  }
  if (records.length === 0) throw new DatasetError('invalid', 'dataset_empty', 'the file is empty: it needs a header row and at least one data row');
  const header = records[0].fields.map((h) => h.trim().toLowerCase());
  const seen = new Set<string>();
  for (const h of header) {
    if (h !== '' && seen.has(h)) throw new DatasetError('invalid', 'csv_duplicate_column', `the header names column "${h}" twice`, { line: records[0].line });
    seen.add(h);
  }
  const targetCol = header.indexOf('target');
  const inputCols = header.flatMap((h, c) => (INPUT_KINDS as readonly string[]).includes(h) ? [[h, c] as const] : []);
  if (targetCol === -1) throw new DatasetError('invalid', 'csv_missing_column', `the header (${header.join(',')}) has no "target" column`, { line: records[0].line });
  if (inputCols.length === 0) {
    throw new DatasetError('invalid', 'csv_missing_column', `the header (${header.join(',')}) needs an input column: formula, cif, poscar or structure`, { line: records[0].line });
  }
  const idCol = header.indexOf('id');
  const speciesCol = header.indexOf('species');
  const ignored = header.filter((h) => !['target', 'id', 'species'].includes(h) && !(INPUT_KINDS as readonly string[]).includes(h));
  const warnings: DatasetWarning[] = ignored.length > 0 ? [{ message: `ignored column(s): ${ignored.map((h) => `"${h}"`).join(', ')}` }] : [];

  const data = records.slice(1);
  if (data.length > limits.maxRows) throw tooManyRows(data.length, limits);
  const rows = data.map((rec): RawRow => {
    if (rec.fields.length !== header.length) {
      return { value: undefined, line: rec.line, errors: [{ code: 'csv_column_count', message: `the row has ${rec.fields.length} fields; the header has ${header.length}` }] };
    }
    const value: Record<string, string> = { target: rec.fields[targetCol] };
    for (const [kind, c] of inputCols) value[kind] = rec.fields[c];
    if (speciesCol !== -1 && rec.fields[speciesCol].trim() !== '') value.species = rec.fields[speciesCol];
    if (idCol !== -1) value.id = rec.fields[idCol];
    return { value, line: rec.line };
  });
  return { rows, warnings };
}

/** One JSON object per line; blank lines are skipped; a line that is not JSON is that row's error. */
export function rowsFromJsonl(text: string, limits: DatasetLimits = DATASET_LIMITS): RawRow[] {
  const rows: RawRow[] = [];
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const s = lines[k].trim();
    if (s === '') continue;
    if (rows.length === limits.maxRows) throw tooManyRows(lines.slice(k).filter((l) => l.trim() !== '').length + rows.length, limits);
    try {
      rows.push({ value: JSON.parse(s), line: k + 1 });
    } catch (err) {
      rows.push({ value: undefined, line: k + 1, errors: [{ code: 'jsonl_invalid_json', message: `the line is not valid JSON: ${(err as Error).message}` }] });
    }
  }
  return rows;
}

/** A JSON file holding an array of row objects (or `{ "rows": [...] }`). */
export function rowsFromJsonFile(text: string): RawRow[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new DatasetError('invalid', 'upload_invalid_json', `the file is not valid JSON: ${(err as Error).message}`);
  }
  const rows = Array.isArray(doc) ? doc : (doc !== null && typeof doc === 'object' && Array.isArray((doc as { rows?: unknown }).rows) ? (doc as { rows: unknown[] }).rows : undefined);
  if (!rows) throw new DatasetError('invalid', 'upload_invalid_json', 'a JSON file must hold an array of rows (or an object with a "rows" array)');
  return rows.map((value) => ({ value }));
}

export function parseUpload(file: UploadedFile, limits: DatasetLimits = DATASET_LIMITS): ParsedUpload {
  if (file.buffer.length > limits.maxBytes) {
    throw new DatasetError('too_large', 'dataset_too_large', `the file has ${file.buffer.length} bytes; at most ${limits.maxBytes} are accepted`, { limit: limits.maxBytes });
  }
  const text = decodeUpload(file.buffer, limits);
  const format = detectFormat(file, text);
  if (format === 'csv') {
    const { rows, warnings } = rowsFromCsv(text, limits);
    return { format, rows, fromText: true, warnings };
  }
  return { format, rows: format === 'jsonl' ? rowsFromJsonl(text, limits) : rowsFromJsonFile(text), fromText: false, warnings: [] };
}

// ---------------------------------------------------------------------------------------------------------------
// Rows

type Problem = { code: string; message: string };

/** A target written as text (CSV): plain decimal or scientific notation; NaN, infinities and blanks are errors. */
export function parseTargetText(text: string): number | Problem {
  const t = text.trim();
  if (t === '') return { code: 'target_missing', message: 'the target is empty' };
  if (/^[+-]?(nan|inf|infinity)$/i.test(t)) return { code: 'target_not_finite', message: `the target "${t}" is not a finite number` };
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(t)) return { code: 'target_not_number', message: `the target "${t}" is not a number` };
  const n = Number(t);
  if (!Number.isFinite(n)) return { code: 'target_not_finite', message: `the target "${t}" is out of range` };
  return n;
}

function checkTarget(value: unknown, fromText: boolean): number | Problem {
  if (value === undefined || value === null) return { code: 'target_missing', message: 'the row has no "target"' };
  if (typeof value === 'number') return Number.isFinite(value) ? value : { code: 'target_not_finite', message: `the target ${value} is not a finite number` };
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
  return id;
}

function hasNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (Array.isArray(v)) return v.some(hasNul);
  if (v !== null && typeof v === 'object') return Object.entries(v).some(([k, x]) => k.includes('\u0000') || hasNul(x));
  return false;
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
export function validateRow(raw: RawRow, fromText: boolean): { row?: Omit<DatasetRowRecord, 'index'>; warnings: string[]; problems: Problem[] } {
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
    if (hasNul(input)) {
      problems.push({ code: 'input_invalid_character', message: 'the input contains a NUL character' });
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

  const target = checkTarget(o.target, fromText);
  if (isProblem(target)) problems.push(target);
  const id = checkId(o.id, fromText);
  if (isProblem(id)) problems.push(id);

  if (problems.length > 0 || !kind || !input || formula === undefined || isProblem(target) || isProblem(id)) return { problems, warnings };
  return { row: { kind, input, formula, target, externalId: id }, warnings, problems };
}

// ---------------------------------------------------------------------------------------------------------------
// Content

/** JSON with object keys sorted at every level, so equal content serialises to equal bytes. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/**
 * sha256 over property, unit and the rows in order (kind, canonical input, target), one canonical JSON line each.
 * The name and the uploader's row ids are labels, not content: the same data under another name is the same dataset.
 */
export function datasetContentHash(property: string, unit: string, rows: readonly Pick<DatasetRowRecord, 'kind' | 'input' | 'target'>[]): string {
  const h = createHash('sha256');
  h.update('matmoe-dataset/1\n');
  h.update(`${canonicalJson([property, unit])}\n`);
  for (const r of rows) h.update(`${canonicalJson([r.kind, r.input, r.target])}\n`);
  return h.digest('hex');
}

/** count, mean, population std (ddof = 0), min, max and median (mean of the middle two for even counts). */
export function targetStats(values: readonly number[]): TargetStats {
  const n = values.length;
  if (n === 0) throw new Error('targetStats needs at least one value');
  let sum = 0;
  for (const x of values) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of values) ss += (x - mean) * (x - mean);
  const sorted = Float64Array.from(values).sort();
  const mid = n >> 1;
  const median = n % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { count: n, mean, std: Math.sqrt(ss / n), min: sorted[0], max: sorted[n - 1], median };
}

export interface PrepareOptions {
  /** CSV cells: targets and structure JSON are parsed from text, empty cells are absent. */
  fromText?: boolean;
  limits?: DatasetLimits;
  /** Warnings found while reading the file, listed before the rows' own. */
  warnings?: DatasetWarning[];
}

/** Time slice after which the async variant lets other requests run. */
const SLICE_MS = 20;

/**
 * The validation loop as a generator that pauses (yields) every SLICE_MS, so the same code serves the synchronous
 * call and the asynchronous one that keeps the event loop responsive during a 100,000-row upload.
 */
function* prepareSteps(meta: DatasetMeta, raw: readonly RawRow[], opts: PrepareOptions): Generator<void, PreparedDataset> {
  const limits = opts.limits ?? DATASET_LIMITS;
  const fromText = opts.fromText ?? false;
  const { name, property, unit } = checkMeta({ name: meta.name, property: meta.property, unit: meta.unit });
  if (raw.length === 0) throw new DatasetError('invalid', 'dataset_empty', 'the dataset has no rows');
  if (raw.length > limits.maxRows) throw tooManyRows(raw.length, limits);

  const rows: DatasetRowRecord[] = [];
  const errors: RowError[] = [];
  const warnings: DatasetWarning[] = [...(opts.warnings ?? [])];
  let errorCount = 0;
  let invalidRows = 0;
  let warningCount = warnings.length;
  let sliceStart = performance.now();
  for (let index = 0; index < raw.length; index++) {
    if ((index & 63) === 0 && performance.now() - sliceStart > SLICE_MS) {
      yield;
      sliceStart = performance.now();
    }
    const r = raw[index];
    const res = validateRow(r, fromText);
    for (const message of res.warnings) {
      if (warningCount++ < limits.maxWarningsListed) warnings.push({ index, message });
    }
    if (!res.row) {
      invalidRows++;
      for (const p of res.problems) {
        if (errorCount++ < limits.maxErrorsListed) errors.push({ index, ...(r.line !== undefined ? { line: r.line } : {}), code: p.code, message: p.message });
      }
      continue;
    }
    rows.push({ index, ...res.row });
  }
  if (invalidRows > 0) {
    const first = errors[0];
    throw new DatasetError(
      'invalid',
      'invalid_rows',
      `${invalidRows} of ${raw.length} rows are invalid (first: row ${first.index}${first.line !== undefined ? `, line ${first.line}` : ''}: ${first.message}); nothing was stored`,
      { errors, invalidRows, totalRows: raw.length, errorCount, omittedErrors: errorCount - errors.length },
    );
  }
  const kinds = new Set(rows.map((r) => r.kind));
  return {
    name,
    property,
    unit,
    contentHash: datasetContentHash(property, unit, rows),
    inputKinds: INPUT_KINDS.filter((k) => kinds.has(k)),
    targetStats: targetStats(rows.map((r) => r.target)),
    rows,
    warnings: warningCount > limits.maxWarningsListed ? [...warnings, { message: `${warningCount - limits.maxWarningsListed} more warnings not listed` }] : warnings,
  };
}

/**
 * Validates every row and builds what is stored. When any row is bad, throws `invalid_rows` listing every problem
 * (up to `maxErrorsListed`, the rest counted), so one round trip shows the uploader all there is to fix.
 */
export function prepareDataset(meta: DatasetMeta, raw: readonly RawRow[], opts: PrepareOptions = {}): PreparedDataset {
  const steps = prepareSteps(meta, raw, opts);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** prepareDataset that yields to the event loop every few milliseconds (for servers). */
export async function prepareDatasetAsync(meta: DatasetMeta, raw: readonly RawRow[], opts: PrepareOptions = {}): Promise<PreparedDataset> {
  const steps = prepareSteps(meta, raw, opts);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
