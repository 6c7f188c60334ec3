/** What every stored benchmark or training run records about where it came from: the git commit and the command. */
import { execFileSync } from 'node:child_process';
import { ROOT } from '../../src/paths.js';

/** HEAD's commit, with `+dirty` when tracked files differ from it (the numbers then belong to uncommitted code). */
export function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
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
