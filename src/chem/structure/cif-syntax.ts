import { ChemError } from '../types.js';

/** One CIF value with the (1-based) line it starts on; `quoted` values are never the special '?' / '.'. */
export interface CifValue {
  text: string;
  quoted: boolean;
  line: number;
}

export interface CifLoop {
  tags: string[];
  rows: CifValue[][];
  line: number;
}

export interface CifBlock {
  name: string;
  line: number;
  items: Map<string, CifValue>;
  loops: CifLoop[];
  /** Looped tag → its loop and column. */
  loopOf: Map<string, { loop: CifLoop; column: number }>;
}

interface Token extends CifValue {
  /** Unquoted tokens can be tags and reserved words; quoted ones and text fields are always values. */
  kind: 'word' | 'value';
}

function syntax(message: string, line: number): ChemError {
  return new ChemError('cif_syntax', `CIF line ${line}: ${message}`, line);
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\v' || c === '\f';

/** Splits CIF 1.1 text into tokens: whitespace-separated words, '…' / "…" strings, ;-delimited text fields, # comments. */
function tokenize(text: string): Token[] {
  const lines = text.split('\n');
  const tokens: Token[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const lineNo = i + 1;
    if (line.startsWith(';')) {
      const parts = [line.slice(1)];
      let j = i + 1;
      while (j < lines.length && !lines[j].startsWith(';')) parts.push(lines[j++]);
      if (j >= lines.length) throw syntax('text field opened with ";" is never closed', lineNo);
      tokens.push({ kind: 'value', text: parts.join('\n').trim(), quoted: true, line: lineNo });
      i = j; // the closing ';' line; anything after the ';' on it is ignored
      continue;
    }
    let p = 0;
    while (p < line.length) {
      while (p < line.length && isSpace(line[p])) p++;
      if (p >= line.length || line[p] === '#') break;
      const q = line[p];
      if (q === "'" || q === '"') {
        // a quote closes only when followed by whitespace or the end of the line (CIF 1.1)
        let e = p + 1;
        while (e < line.length && !(line[e] === q && (e + 1 === line.length || isSpace(line[e + 1])))) e++;
        if (e >= line.length) throw syntax(`unterminated ${q}quoted${q} string`, lineNo);
        tokens.push({ kind: 'value', text: line.slice(p + 1, e), quoted: true, line: lineNo });
        p = e + 1;
      } else {
        const s = p;
        while (p < line.length && !isSpace(line[p])) p++;
        tokens.push({ kind: 'word', text: line.slice(s, p), quoted: false, line: lineNo });
      }
    }
  }
  return tokens;
}

/** Lower-case tag with DDLm's '.' separator written as '_' (`_atom_site.fract_x` → `_atom_site_fract_x`). */
export function normalizeTag(tag: string): string {
  return tag.toLowerCase().replace('.', '_');
}

type Reserved = 'data' | 'loop' | 'save' | 'global' | 'stop' | undefined;

function reserved(t: Token): Reserved {
  if (t.kind !== 'word') return undefined;
  const l = t.text.toLowerCase();
  if (l.startsWith('data_')) return 'data';
  if (l === 'loop_') return 'loop';
  if (l.startsWith('save_')) return 'save';
  if (l === 'global_') return 'global';
  if (l === 'stop_') return 'stop';
  return undefined;
}

const isTag = (t: Token): boolean => t.kind === 'word' && t.text.startsWith('_');

/**
 * Parses CIF text into its data blocks (items and loops). Save frames and global blocks are skipped; tags before the
 * first data_ line go into an unnamed block, since pasted CIFs sometimes lack the header. Linear in the text length.
 */
export function readCifBlocks(text: string): CifBlock[] {
  const tokens = tokenize(text);
  const blocks: CifBlock[] = [];
  let block: CifBlock | undefined;
  let skipping = false; // inside a save frame or global_ block
  const current = (line: number): CifBlock => {
    if (!block) {
      block = { name: '', line, items: new Map(), loops: [], loopOf: new Map() };
      blocks.push(block);
    }
    return block;
  };
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i];
    const r = reserved(t);
    if (r === 'data') {
      block = { name: t.text.slice(5), line: t.line, items: new Map(), loops: [], loopOf: new Map() };
      blocks.push(block);
      skipping = false;
      i++;
    } else if (r === 'save' || r === 'global') {
      // "save_name" opens a frame, a bare "save_" closes it
      skipping = r === 'global' || t.text.length > 5;
      i++;
    } else if (r === 'stop') {
      i++;
    } else if (r === 'loop') {
      const loop: CifLoop = { tags: [], rows: [], line: t.line };
      i++;
      while (i < tokens.length && isTag(tokens[i])) loop.tags.push(normalizeTag(tokens[i++].text));
      if (loop.tags.length === 0) throw syntax('loop_ without tags', t.line);
      const values: CifValue[] = [];
      while (i < tokens.length && !isTag(tokens[i]) && !reserved(tokens[i])) {
        const v = tokens[i++];
        values.push({ text: v.text, quoted: v.quoted, line: v.line });
      }
      if (values.length % loop.tags.length !== 0) {
        throw syntax(`loop_ with ${loop.tags.length} tags has ${values.length} values, not a multiple of ${loop.tags.length}`, t.line);
      }
      for (let k = 0; k < values.length; k += loop.tags.length) loop.rows.push(values.slice(k, k + loop.tags.length));
      if (!skipping) {
        const b = current(t.line);
        b.loops.push(loop);
        loop.tags.forEach((tag, column) => b.loopOf.set(tag, { loop, column }));
      }
    } else if (isTag(t)) {
      const v = tokens[i + 1];
      if (!v || isTag(v) || reserved(v)) throw syntax(`tag ${t.text} has no value`, t.line);
      if (!skipping) current(t.line).items.set(normalizeTag(t.text), { text: v.text, quoted: v.quoted, line: v.line });
      i += 2;
    } else {
      if (!skipping) throw syntax(`value "${t.text.slice(0, 30)}" does not belong to any tag`, t.line);
      i++;
    }
  }
  return blocks;
}

/** All values of a tag in a block: one for a plain item, one per row for a looped tag, none when absent. */
export function tagValues(block: CifBlock, tag: string): CifValue[] {
  const item = block.items.get(tag);
  if (item) return [item];
  const looped = block.loopOf.get(tag);
  return looped ? looped.loop.rows.map((row) => row[looped.column]) : [];
}

/** CIF's "unknown" (?) and "not applicable" (.) markers, which only count unquoted. */
export function isMissing(v: CifValue | undefined): boolean {
  return v === undefined || (!v.quoted && (v.text === '?' || v.text === '.'));
}

/** A CIF number, with its standard uncertainty in parentheses ignored: "5.431(2)" → 5.431; undefined if not a number. */
export function cifNumber(v: CifValue): number | undefined {
  if (v.text.length > 64) return undefined; // no real number is longer; keeps the regex linear on junk
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?:\(\d+\))?$/.exec(v.text.trim());
  if (!m) return undefined;
  const x = Number(m[1]);
  return Number.isFinite(x) ? x : undefined;
}
