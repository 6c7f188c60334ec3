/**
 * A validated dataset as it is stored: its content hash (what makes two uploads the same dataset), target statistics,
 * input kinds and rows; built by a validation loop that reports every bad row and never stores a partial dataset.
 */
import { createHash } from 'node:crypto';
import { INPUT_KINDS } from '../../chem/input.js';
import type { DatasetRowRecord, TargetStats } from '../../db/dataset-queries.js';
import { UnprocessableError } from '../../errors.js';
import { checkMeta, DATASET_LIMITS, type DatasetLimits, type DatasetMeta, type DatasetWarning, type PreparedDataset, type RawRow, type RowError } from './limits.js';
import { hasTarget, validateRow } from './rows.js';
import { tooManyRows } from './upload.js';

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
  /** Time slice after which the async variant lets other requests run (default SLICE_MS). */
  sliceMs?: number;
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
  if (raw.length === 0) throw new UnprocessableError('dataset_empty', 'the dataset has no rows');
  if (raw.length > limits.maxRows) throw tooManyRows(raw.length, limits);

  // Labelled unless no row has a target at all: then the dataset holds inputs to screen, not training data.
  const labelled = raw.some((r) => r.value !== null && typeof r.value === 'object' && hasTarget((r.value as { target?: unknown }).target, fromText));
  const rows: DatasetRowRecord[] = [];
  const errors: RowError[] = [];
  const warnings: DatasetWarning[] = [...(opts.warnings ?? [])];
  let errorCount = 0;
  let invalidRows = 0;
  let warningCount = warnings.length;
  let sliceStart = performance.now();
  for (let index = 0; index < raw.length; index++) {
    if ((index & 63) === 0 && performance.now() - sliceStart >= (opts.sliceMs ?? SLICE_MS)) {
      yield;
      sliceStart = performance.now();
    }
    const r = raw[index];
    const res = validateRow(r, fromText, labelled);
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
    throw new UnprocessableError(
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
    labelled,
    targetStats: labelled ? targetStats(rows.map((r) => r.target as number)) : null,
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
