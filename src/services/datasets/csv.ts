import { CsvError, parse } from 'csv-parse/sync';

/** One CSV record with the 1-based line on which it starts (quoted fields may span lines). */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/** The file as a whole cannot be read as CSV (not one bad row, which callers report per row). */
export class CsvSyntaxError extends Error {
  constructor(
    readonly code: 'csv_unterminated_quote' | 'csv_malformed',
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'CsvSyntaxError';
  }
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * RFC 4180 CSV through csv-parse: quoted fields may hold commas and line breaks (CIF/POSCAR text), `""` is one quote,
 * records end at CRLF, LF or CR, a leading BOM is dropped, blank lines are skipped, and rows keep their own field
 * count (the caller reports a wrong count per row). A stray quote is an error rather than a guess, since a mis-split
 * CIF would silently become a different material.
 */
export function parseCsv(text: string): CsvRecord[] {
  type Row = { record: string[]; info: { bytes: number } };
  let rows: Row[];
  try {
    // With `info: true` csv-parse returns { record, info } objects; its type declarations only model plain records.
    rows = parse(text, { bom: true, info: true, relax_column_count: true, skip_empty_lines: true, record_delimiter: ['\r\n', '\n', '\r'] }) as unknown as Row[];
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    const line = (err as CsvError & { lines?: number }).lines ?? 1;
    if (err.code === 'CSV_QUOTE_NOT_CLOSED') throw new CsvSyntaxError('csv_unterminated_quote', `a quoted field is never closed: the file ends inside it, at line ${line}`, line);
    throw new CsvSyntaxError('csv_malformed', `line ${line}: a stray quote; put a field that holds a quote in quotes and double the quote inside it ("")`, line);
  }
  // csv-parse's own line count treats a CRLF inside a quoted field as two lines; a record's start line is counted here
  // from its byte offset (`info.bytes` is where the previous record ended), skipping the blank lines before it.
  const buf = Buffer.from(text, 'utf8');
  let pos = 0;
  let line = 1;
  let prevEnd = 0;
  return rows.map(({ record, info }) => {
    let start = prevEnd;
    while (start < buf.length && (buf[start] === LF || buf[start] === CR)) start++;
    for (; pos < start; pos++) if (buf[pos] === LF || (buf[pos] === CR && buf[pos + 1] !== LF)) line++;
    prevEnd = info.bytes;
    return { fields: record, line };
  });
}
