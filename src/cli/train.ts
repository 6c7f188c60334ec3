import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { FineTuneRequest } from '../services/fine-tune/request.js';
import { ApiClient } from './client.js';
import { progressBar } from './table.js';

export interface TrainOptions {
  file: string;
  property: string;
  unit: string;
  /** Fine-tune options as given on the command line; `name` also labels the dataset (default: the file's name). */
  fineTune: Partial<FineTuneRequest>;
}

/** CSV/JSONL file → dataset → random 70/15/15 split → fine-tune job, then follows its progress until it ends. */
export async function trainCommand(client: ApiClient, o: TrainOptions, write: (s: string) => void): Promise<Record<string, unknown>> {
  const form = new FormData();
  form.set('name', o.fineTune.name ?? basename(o.file).replace(/\.[^.]*$/, ''));
  form.set('property', o.property);
  form.set('unit', o.unit);
  form.set('file', new Blob([await readFile(o.file)]), basename(o.file));
  const dataset = await client.request<{ id: string; rowCount: number }>('POST', '/v1/datasets', form);
  write(`dataset ${dataset.id} (${dataset.rowCount} rows)\n`);
  const split = await client.request<{ id: string; sizes: { train: number; val: number; test: number } }>('POST', `/v1/datasets/${dataset.id}/splits`, { seed: o.fineTune.seed ?? 0 });
  write(`split ${split.id} (train ${split.sizes.train}, val ${split.sizes.val}, test ${split.sizes.test})\n`);
  const request: FineTuneRequest = { type: 'fine-tune', dataset: dataset.id, split: split.id, ...o.fineTune };
  const job = await client.request<{ id: string }>('POST', '/v1/jobs', request);
  write(`job ${job.id} queued\n`);
  let last: Record<string, unknown> = {};
  await client.followJob(job.id, (j) => {
    last = j;
    const p = (j.progress ?? {}) as { epoch?: number; epochs?: number; valMae?: number; bestValMae?: number; gate?: { key: string; weight: number }[]; stage?: string };
    if (p.epoch && p.epochs) {
      const gate = (p.gate ?? []).map((g) => `${g.key} ${g.weight.toFixed(2)}`).join(', ');
      write(`\r${progressBar(p.epoch / p.epochs)} epoch ${p.epoch}/${p.epochs} val MAE ${p.valMae?.toPrecision(3)} (best ${p.bestValMae?.toPrecision(3)}) ${gate}   `);
    } else if (p.stage) {
      write(`\r${String(j.state)}: ${p.stage}   `);
    }
  });
  write('\n');
  if (last.state !== 'completed') throw new Error(`job ${job.id} ended ${String(last.state)}: ${String(last.error ?? '')}`);
  const result = last.result as { name: string; valMae: number; testMae: number | null };
  write(`model ${result.name}: validation MAE ${result.valMae.toPrecision(3)} ${o.unit}, test MAE ${result.testMae?.toPrecision(3) ?? '–'} ${o.unit}\n`);
  return result;
}
