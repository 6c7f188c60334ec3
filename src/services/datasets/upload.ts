/**
 * An uploaded file into raw rows: gzip and UTF-8 decoding, the format (from the form, the file name, the media type or
 * the first character), and CSV, JSONL or JSON rows, each with the line it came from.
 */
import { extname } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { INPUT_KINDS } from '../../chem/input.js';
import { UnprocessableError } from '../../errors.js';
import { CsvSyntaxError, parseCsv } from './csv.js';
import {
  DATASET_LIMITS, TooLargeError, UnsupportedFormatError,
  type DatasetLimits, type DatasetWarning, type ParsedUpload, type RawRow, type UploadedFile, type UploadFormat,
} from './limits.js';

/** gunzips when the bytes start with the gzip magic number, then decodes strict UTF-8 (a leading BOM is dropped). */
export function decodeUpload(buffer: Buffer, limits: DatasetLimits = DATASET_LIMITS): string {
  let bytes: Buffer = buffer;
  if (buffer.length >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b) {
    try {
      bytes = gunzipSync(buffer, { maxOutputLength: limits.maxBytes });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new TooLargeError('dataset_too_large', `the file is larger than ${limits.maxBytes} bytes once decompressed`, { limit: limits.maxBytes });
      }
      throw new UnprocessableError('upload_bad_gzip', `the file looks gzip-compressed but cannot be decompressed: ${(err as Error).message}`);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UnprocessableError('upload_not_utf8', 'the file is not UTF-8 text');
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
    if (!f) throw new UnsupportedFormatError('upload_format_unsupported', `format "${file.format}" is not supported; use csv, jsonl or json`);
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

export function tooManyRows(count: number, limits: DatasetLimits): TooLargeError {
  return new TooLargeError('dataset_too_many_rows', `the dataset has ${count} rows; at most ${limits.maxRows} are accepted`, { limit: limits.maxRows, rows: count });
}

/**
 * CSV with a header row: `target` (left out for inputs to screen), one or more input columns (`formula`, `cif`, `poscar`, `structure` as JSON text;
 * each row fills exactly one), optionally `species` (a VASP 4 POSCAR's block elements, "Ga As") and `id`. Header names are case-insensitive; other columns are ignored
 * with a warning.
 */
export function rowsFromCsv(text: string, limits: DatasetLimits = DATASET_LIMITS): { rows: RawRow[]; warnings: DatasetWarning[] } {
  let records;
  try {
    records = parseCsv(text);
  } catch (err) {
    if (err instanceof CsvSyntaxError) throw new UnprocessableError(err.code, err.message, { line: err.line });
    throw err;
  }
  if (records.length === 0) throw new UnprocessableError('dataset_empty', 'the file is empty: it needs a header row and at least one data row');
  const header = records[0].fields.map((h) => h.trim().toLowerCase());
  const seen = new Set<string>();
  for (const h of header) {
    if (h !== '' && seen.has(h)) throw new UnprocessableError('csv_duplicate_column', `the header names column "${h}" twice`, { line: records[0].line });
    seen.add(h);
  }
  const targetCol = header.indexOf('target');
  const inputCols = header.flatMap((h, c) => (INPUT_KINDS as readonly string[]).includes(h) ? [[h, c] as const] : []);
  if (inputCols.length === 0) {
    throw new UnprocessableError('csv_missing_column', `the header (${header.join(',')}) needs an input column: formula, cif, poscar or structure`, { line: records[0].line });
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
    // Without a target column the file lists inputs to screen (an unlabelled dataset).
    const value: Record<string, string> = targetCol === -1 ? {} : { target: rec.fields[targetCol] };
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
    throw new UnprocessableError('upload_invalid_json', `the file is not valid JSON: ${(err as Error).message}`);
  }
  const rows = Array.isArray(doc) ? doc : (doc !== null && typeof doc === 'object' && Array.isArray((doc as { rows?: unknown }).rows) ? (doc as { rows: unknown[] }).rows : undefined);
  if (!rows) throw new UnprocessableError('upload_invalid_json', 'a JSON file must hold an array of rows (or an object with a "rows" array)');
  return rows.map((value) => ({ value }));
}

export function parseUpload(file: UploadedFile, limits: DatasetLimits = DATASET_LIMITS): ParsedUpload {
  if (file.buffer.length > limits.maxBytes) {
    throw new TooLargeError('dataset_too_large', `the file has ${file.buffer.length} bytes; at most ${limits.maxBytes} are accepted`, { limit: limits.maxBytes });
  }
  const text = decodeUpload(file.buffer, limits);
  const format = detectFormat(file, text);
  if (format === 'csv') {
    const { rows, warnings } = rowsFromCsv(text, limits);
    return { format, rows, fromText: true, warnings };
  }
  return { format, rows: format === 'jsonl' ? rowsFromJsonl(text, limits) : rowsFromJsonFile(text), fromText: false, warnings: [] };
}
