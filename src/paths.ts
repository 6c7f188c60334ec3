import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (or installed package) root: the nearest folder above this file holding package.json. Works from src/ and from dist/src/. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot locate the MatMoE package root (no package.json above src/)');
    dir = up;
  }
}

export const ROOT = findRoot();
export const MIGRATIONS_DIR = join(ROOT, 'migrations');
export const ASSETS_DIR = join(ROOT, 'assets');
export const EXPERTS_DIR = join(ROOT, 'experts');
/** Reference data beside the checkout (../shared); used by benchmarks and tests, never by the running service. */
export const SHARED_DIR = resolve(ROOT, '..', 'shared');
