import { ChemError } from './types.js';

/*
 * Checks on raw user input that come before any parsing. A NUL character is never part of a formula, a CIF, a POSCAR
 * or a JSON structure, and PostgreSQL refuses it in text and jsonb (error 22021 / 22P05), so it is refused here rather
 * than by the database after the work is done. Nesting is bounded because JSON.stringify and structuredClone recurse
 * and overflow the stack on a few thousand levels, which a pymatgen dict's free-form "properties" could carry.
 */

/** Deepest nesting of arrays and objects accepted in one input (a pymatgen Structure dict needs about 6). */
export const MAX_INPUT_DEPTH = 32;

/** Where a NUL character is in `text` (the 1-based line for files, `unit` 'line', else the 0-based index) and a message saying so. */
export function findNul(text: string, what: string, unit: 'line' | 'character'): { position: number; message: string } | undefined {
  const at = text.indexOf('\0');
  if (at < 0) return undefined;
  const position = unit === 'line' ? text.slice(0, at).split('\n').length : at;
  const place = unit === 'line' ? `on line ${position}` : `at position ${position}`;
  // a file saved as UTF-16 has a NUL beside every ASCII character
  const hint = unit === 'line' ? ' (is the file binary, or saved as UTF-16?)' : '';
  return { position, message: `${what} contains a NUL character (code 0) ${place}; remove it${hint}` };
}

/** Refuses (input_invalid_character) text holding a NUL character, naming where it is. */
export function refuseNulText(text: string, what: string, unit: 'line' | 'character'): void {
  const nul = findNul(text, what, unit);
  if (nul) throw new ChemError('input_invalid_character', nul.message, nul.position);
}

interface Node {
  value: unknown;
  depth: number;
  parent?: Node;
  /** Array index or object key under the parent. */
  key?: number | string;
}

/** `sites[2].label`, built only when a message needs it (the walk itself keeps no strings). */
function pathOf(node: Node | undefined): string {
  const parts: string[] = [];
  for (let n = node; n?.parent; n = n.parent) parts.push(typeof n.key === 'number' ? `[${n.key}]` : `.${String(n.key).slice(0, 40)}`);
  const path = parts.reverse().join('').replace(/^\./, '');
  return path.length > 200 ? `…${path.slice(-200)}` : path;
}

/**
 * Walks a JSON-like value without recursion and refuses (input_invalid_character) any string or object key with a NUL
 * character, naming its path (e.g. `sites[2].label`), and (input_too_deep) nesting beyond MAX_INPUT_DEPTH.
 */
export function refuseBadValue(value: unknown, what: string): void {
  const stack: Node[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const v = node.value;
    if (typeof v === 'string') {
      // a file names the line, a one-line string (a formula, a label) the character
      const nul = findNul(v, node.parent ? `${what}: ${pathOf(node)}` : what, v.includes('\n') ? 'line' : 'character');
      if (nul) throw new ChemError('input_invalid_character', nul.message, nul.position);
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (node.depth >= MAX_INPUT_DEPTH) {
      throw new ChemError('input_too_deep', `${what}: ${pathOf(node) || 'the value'} is nested more than ${MAX_INPUT_DEPTH} levels deep`);
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i] as unknown, depth: node.depth + 1, parent: node, key: i });
      continue;
    }
    const entries = Object.entries(v as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i];
      if (key.includes('\0')) {
        throw new ChemError('input_invalid_character', `${what}: a key of ${pathOf(node) || 'the top level'} contains a NUL character (code 0); remove it`);
      }
      stack.push({ value: child, depth: node.depth + 1, parent: node, key });
    }
  }
}
