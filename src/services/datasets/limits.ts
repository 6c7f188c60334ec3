/**
 * What a dataset is made of before it is stored, and the bounds every upload is held to: row and byte limits, the
 * label lengths, and the name/property/unit fields of a form.
 */
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import type { DatasetRowRecord, NewDataset } from '../../db/dataset-queries.js';
import { AppError, BadRequestError } from '../../errors.js';

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

export const MAX_ROW_ID_LENGTH = 200;

/**
 * The largest |target| a row may hold. Beyond it no physical property in any unit is meant, and training on it
 * overflows float32 (1e308 "completed" with null MAEs): such a row is refused, named by its index.
 */
export const MAX_ABS_TARGET = 1e15;

/** Text without NUL: PostgreSQL cannot store U+0000 in text or jsonb (error 22021), so it is refused as a 400 first. */
export const NUL_FREE = '^[^\\u0000]*$';

export const VisibilitySchema = Type.Enum(['private', 'public'], { description: 'private (default: only its owner sees it) or public (everyone can read it)' });

/** The labels of a dataset, whether they come in a JSON body or as form fields of an upload. */
export const DatasetFields = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200, pattern: NUL_FREE, description: 'a label for people; not part of the content hash' }),
  property: Type.String({ minLength: 1, maxLength: 200, pattern: NUL_FREE, description: 'the property the targets measure, e.g. "band gap"' }),
  unit: Type.String({ maxLength: 50, pattern: NUL_FREE, description: 'unit of the targets ("" when dimensionless)' }),
  visibility: Type.Optional(VisibilitySchema),
});

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

export type DatasetMeta = Static<typeof DatasetFields>;

export interface DatasetWarning {
  index?: number;
  message: string;
}

export interface PreparedDataset extends Omit<NewDataset, 'owner' | 'visibility'> {
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

/** 413: the upload is over one of the limits. */
export class TooLargeError extends AppError {
  constructor(code: string, message: string, extra?: Record<string, unknown>) {
    super(413, code, message, extra);
  }
}

/** 415: a file format we do not read. */
export class UnsupportedFormatError extends AppError {
  constructor(code: string, message: string) {
    super(415, code, message);
  }
}

/** Labels with surrounding whitespace removed, checked against DatasetFields (400 naming each bad field). */
export function checkMeta(fields: Readonly<Record<string, unknown>>): DatasetMeta {
  const trimmed = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === 'string' ? v.trim() : v]));
  const errors = [...Value.Errors(DatasetFields, trimmed)].map((e) => ({ path: `body${e.instancePath}`, message: e.message }));
  for (const key of Object.keys(fields)) {
    if (!(key in DatasetFields.properties)) errors.unshift({ path: `body/${key}`, message: `unknown field "${key}" (a dataset has name, property, unit and optionally visibility)` });
  }
  if (errors.length > 0) throw new BadRequestError('validation_failed', `the request ${errors[0].path} is invalid: ${errors[0].message}`, { errors });
  return trimmed as DatasetMeta;
}
