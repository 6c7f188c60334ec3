/**
 * The output of a batch prediction as a client downloads it: the stored JSON lines, or CSV (one row per input: value,
 * uncertainty, experts, warnings, or the error of a row the model could not read). Streamed, so a 100,000-row output
 * never holds the event loop.
 */
import { stringify } from 'csv-stringify';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { BatchRow } from './run.js';

export const OUTPUT_FORMATS = ['jsonl', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const CSV_COLUMNS = ['index', 'id', 'formula', 'value', 'unit', 'uncertainty', 'interval_low', 'interval_high', 'coverage', 'uncertainty_method', 'basis', 'experts', 'warnings', 'target', 'error_code', 'error_message'];

/** One CSV record per JSON line. */
function csvRecord(row: BatchRow): (string | number)[] {
  const p = row.prediction;
  return [
    row.index, row.id ?? '', p?.formula ?? '', p?.value ?? '', p?.unit ?? '', p?.uncertainty ?? '',
    p?.interval?.[0] ?? '', p?.interval?.[1] ?? '', p?.coverage ?? '', p?.uncertaintyMethod ?? '', p?.basis ?? '',
    p ? p.experts.map((e) => `${e.key}:${e.weight.toFixed(4)}`).join(' ') : '', p ? p.warnings.join('; ') : '',
    row.target ?? '', row.error?.code ?? '', row.error?.message ?? '',
  ];
}

/** Splits text into lines and parses each as a BatchRow. */
class JsonLines extends Transform {
  private rest = '';
  constructor() {
    super({ readableObjectMode: true });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const lines = (this.rest + chunk.toString('utf8')).split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) if (line !== '') this.push(csvRecord(JSON.parse(line) as BatchRow));
    done();
  }
  override _flush(done: TransformCallback): void {
    if (this.rest !== '') this.push(csvRecord(JSON.parse(this.rest) as BatchRow));
    done();
  }
}

export function outputStream(gzipped: Buffer, format: OutputFormat): Readable {
  const jsonl = Readable.from([gzipped]).pipe(createGunzip());
  if (format === 'jsonl') return jsonl;
  return jsonl.pipe(new JsonLines()).pipe(stringify({ header: true, columns: CSV_COLUMNS }));
}
