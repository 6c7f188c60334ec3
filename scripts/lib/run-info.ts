/** What the band-gap scripts record about a run (git commit, command) and how they read index ranges (`0-4`, `0,2`). */
import { execFileSync } from 'node:child_process';
import { ROOT } from '../../src/paths.js';

/** What the runs themselves write: a change there does not make the code that produced a number uncommitted. */
const OUTPUTS = [':(exclude)bench/results', ':(exclude)models', ':(exclude)docs'];

/** HEAD's commit, with `+dirty` when tracked code differs from it (the numbers then belong to uncommitted code). */
export function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ...OUTPUTS], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

/** The npm command that reproduces a run, given the script name and its arguments. */
export function npmCommand(script: string, args: readonly string[]): string {
  const rest = args.filter((a) => a !== '--');
  return rest.length > 0 ? `npm run ${script} -- ${rest.join(' ')}` : `npm run ${script}`;
}

/** "0-4" → [0, 1, 2, 3, 4]; "0,2-3" → [0, 2, 3]. */
export function parseIndexRange(text: string): number[] {
  return text.split(',').flatMap((part) => {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!m) throw new RangeError(`bad range "${text}" (e.g. 0-4 or 0,2)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    return Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i);
  });
}
