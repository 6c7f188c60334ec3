import { readFile } from 'node:fs/promises';
import { extname, basename } from 'node:path';
import type { MaterialPrediction } from '../services/inference/prediction.js';
import { ApiClient } from './client.js';
import { formatTable } from './table.js';

/** An argument that names a file rather than a formula: a path separator, a structure-file extension, a VASP name. */
const PATH_LIKE = /[\\/]|\.(cif|json|vasp|poscar|contcar|txt)$|^(POSCAR|CONTCAR)/i;

/**
 * A file: .cif → CIF, .json → pymatgen Structure JSON, anything else → POSCAR; or, when no such file exists, a formula.
 * An argument that looks like a path but does not exist is an error, never a formula.
 */
export async function inputFromArgument(arg: string): Promise<{ label: string; input: Record<string, unknown> }> {
  let text: string;
  try {
    text = await readFile(arg, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new Error(`${arg}: cannot read the file (${(err as Error).message})`);
    if (PATH_LIKE.test(arg)) throw new Error(`${arg}: no such file (give a formula such as GaAs, or the path of a CIF, POSCAR or pymatgen JSON file)`);
    return { label: arg, input: { formula: arg } };
  }
  const ext = extname(arg).toLowerCase();
  if (ext === '.cif' || /^\s*data_/m.test(text)) return { label: basename(arg), input: { cif: text } };
  if (ext === '.json') return { label: basename(arg), input: { structure: JSON.parse(text) as unknown } };
  return { label: basename(arg), input: { poscar: text } };
}

export async function predictCommand(client: ApiClient, model: string, args: readonly string[]): Promise<string> {
  if (args.length === 0) throw new Error('give at least one formula or structure file, e.g. "matmoe predict --model expt_bandgap GaAs"');
  const items = await Promise.all(args.map(inputFromArgument));
  const res = await client.request<{ unit: string; property: string; predictions: MaterialPrediction[] }>(
    'POST', '/v1/predict', { model, inputs: items.map((i) => i.input) },
  );
  const rows = res.predictions.map((p, i) => [
    items[i].label,
    p.formula,
    p.value.toPrecision(4),
    p.uncertainty === null ? '' : `± ${p.uncertainty.toPrecision(2)}`,
    p.interval === null || p.coverage === null ? '' : `${p.interval[0].toPrecision(3)} – ${p.interval[1].toPrecision(3)} (${Math.round(p.coverage * 100)} %)`,
    p.basis,
    p.experts.filter((e) => e.weight > 0).slice(0, 3).map((e) => `${e.key} ${e.weight.toFixed(2)}`).join(', '),
    p.warnings.join('; '),
  ]);
  return `${model}: ${res.property} (${res.unit})\n${formatTable(['input', 'formula', 'value', 'uncertainty', 'interval', 'basis', 'experts', 'warnings'], rows)}`;
}
