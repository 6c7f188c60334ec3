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

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;

function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  for (let k = text.indexOf('\n', from); k !== -1 && k < to; k = text.indexOf('\n', k + 1)) count++;
  return count;
}

/**
 * RFC 4180 CSV: comma-separated, fields optionally wrapped in double quotes, `""` inside quotes is one quote,
 * quoted fields may hold commas and line breaks (CIF/POSCAR text). Records end at CRLF, LF or CR; a leading UTF-8
 * BOM is dropped; blank lines are skipped. A quote inside an unquoted field, or text after a closing quote, is
 * rejected rather than guessed at, since a mis-split CIF would silently become a different material.
 */
export function parseCsv(text: string): CsvRecord[] {
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const records: CsvRecord[] = [];
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let anyQuoted = false;
    for (;;) {
      let field: string;
      if (text.charCodeAt(i) === QUOTE) {
        anyQuoted = true;
        const fieldLine = line;
        i++;
        field = '';
        for (;;) {
          const q = text.indexOf('"', i);
          if (q === -1) throw new CsvSyntaxError('csv_unterminated_quote', `the quoted field starting on line ${fieldLine} is never closed`, fieldLine);
          line += countNewlines(text, i, q);
          field += text.slice(i, q);
          if (text.charCodeAt(q + 1) === QUOTE) {
            field += '"';
            i = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        const c = text.charCodeAt(i);
        if (i < n && c !== COMMA && c !== LF && c !== CR) {
          throw new CsvSyntaxError('csv_malformed', `line ${line}: unexpected text after a closing quote (a quote inside a quoted field must be doubled: "")`, line);
        }
      } else {
        let j = i;
        while (j < n) {
          const c = text.charCodeAt(j);
          if (c === COMMA || c === LF || c === CR) break;
          if (c === QUOTE) throw new CsvSyntaxError('csv_malformed', `line ${line}: a quote inside an unquoted field (quote the whole field and double the quote: "")`, line);
          j++;
        }
        field = text.slice(i, j);
        i = j;
      }
      fields.push(field);
      if (i >= n) break;
      const c = text.charCodeAt(i);
      if (c === COMMA) {
        i++;
        continue;
      }
      i += c === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      break;
    }
    if (fields.length === 1 && fields[0] === '' && !anyQuoted) continue;
    records.push({ fields, line: startLine });
  }
  return records;
}
