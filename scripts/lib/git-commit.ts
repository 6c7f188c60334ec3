/**
 * Commits of long-running scripts: the code commit a run started from, and committing only the files a step wrote
 * (`git commit --only`), so edits elsewhere in the worktree are never swept in. Retries while another git command
 * holds the index lock.
 */
import { execFileSync } from 'node:child_process';
import { ROOT } from '../../src/paths.js';

const git = (args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** HEAD and whether the code the run depends on has uncommitted changes. */
export function codeRevision(paths: readonly string[] = ['src', 'scripts', 'bench']): { commit: string; dirty: boolean } {
  return { commit: git(['rev-parse', 'HEAD']), dirty: git(['status', '--porcelain', '--', ...paths]).length > 0 };
}

export async function commitFiles(paths: readonly string[], message: string): Promise<string | null> {
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      git(['add', '--', ...paths]);
      git(['-c', 'user.name=helper', '-c', 'user.email=helper@matmoe', 'commit', '--only', '-m', message, '--', ...paths]);
      return git(['rev-parse', 'HEAD']);
    } catch (err) {
      const text = String((err as { stderr?: unknown }).stderr ?? err);
      if (/nothing to commit|no changes added/.test(text)) return null;
      if (!/index\.lock|Unable to create/.test(text) || attempt === 9) throw err;
      await new Promise((r) => setTimeout(r, 2000 * (attempt + 1)));
    }
  }
  return null;
}
