/**
 * Regenerates `tfjs-core-gradients.js`: tfjs-core 4.x no longer registers gradients or the chained
 * tensor methods (`x.reshape(...)`) from its Node entry point; they live in ESM-only files under
 * `dist/` that Node cannot load (extensionless imports). The `@tensorflow/tfjs` union package would
 * register them, but we only depend on tfjs-core, so we bundle those two entry files once with esbuild
 * (a dependency of tsx) and commit the result.
 *
 * The bundle carries its own copy of the op functions it calls. That is safe because tfjs-core keeps
 * the engine, kernel registry, gradient registry and tensor class on `globalThis`, and `tf.ts` imports
 * the package before this bundle, so the engine is created by the main copy.
 *
 * Run: node --import tsx src/ml/kernels/vendor/generate.ts
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface EsbuildOutput {
  outputFiles: { text: string }[];
}
interface Esbuild {
  buildSync(options: Record<string, unknown>): EsbuildOutput;
}

const require = createRequire(import.meta.url);
const esbuild = require('esbuild') as Esbuild;
const coreVersion = (require('@tensorflow/tfjs-core/package.json') as { version: string }).version;

const entry = [
  "import '@tensorflow/tfjs-core/dist/register_all_gradients.js';",
  "import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';",
].join('\n');

const result = esbuild.buildSync({
  stdin: { contents: entry, resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'js' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
});

const header = [
  '// GENERATED FILE, do not edit. Source: @tensorflow/tfjs-core ' + coreVersion,
  '// dist/register_all_gradients.js + dist/public/chained_ops/register_all_chained_ops.js (Apache-2.0),',
  '// bundled by src/ml/kernels/vendor/generate.ts. Import only after @tensorflow/tfjs-core itself.',
  `export const TFJS_CORE_VERSION = ${JSON.stringify(coreVersion)};`,
  '',
].join('\n');

const out = fileURLToPath(new URL('./tfjs-core-gradients.js', import.meta.url));
writeFileSync(out, header + result.outputFiles[0]!.text);
console.log(`wrote ${out} (${(result.outputFiles[0]!.text.length / 1024).toFixed(0)} KiB, tfjs-core ${coreVersion})`);
