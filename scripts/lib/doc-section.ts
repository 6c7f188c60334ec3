/**
 * The generated parts of the docs: each lies between `<!-- name:begin -->` and `<!-- name:end -->`, so that the text
 * around it, written by hand, survives a rerun of the script that measures it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** `doc` with `body` between the section's markers; the section is appended (under `heading`, if given) when missing. */
export function replaceSection(doc: string, name: string, body: string, heading?: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${body.trimEnd()}\n${end}`;
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a >= 0 && b > a) return doc.slice(0, a) + block + doc.slice(b + end.length);
  return `${doc.trimEnd()}\n\n${heading ? `${heading}\n\n` : ''}${block}\n`;
}

/** The same on a file; a missing file starts as `title`. */
export function writeDocSection(path: string, name: string, body: string, opts: { heading?: string; title?: string } = {}): void {
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : opts.title ?? '';
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, replaceSection(doc, name, body, opts.heading));
}
