import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { ApiClient } from './client.js';
import { progressBar } from './table.js';

export interface TrainOptions {
  file: string;
  name: string;
  property: string;
  unit: string;
  experts?: string[];
  k?: number;
  epochs?: number;
  patience?: number;
  seed?: number;
  /** Passed through to the job; the API checks them. */
  loss?: string;
  gateInit?: string;
  gateWarmup?: number;
}

/** CSV/JSONL file → dataset → random 70/15/15 split → fine-tune job, then follows its progress until it ends. */
export async function trainCommand(client: ApiClient, o: TrainOptions, write: (s: string) => void): Promise<Record<string, unknown>> {
  const form = new FormData();
  form.set('name', o.name);
  form.set('property', o.property);
  form.set('unit', o.unit);
  form.set('file', new Blob([await readFile(o.file)]), basename(o.file));
  const dataset = await client.request<{ id: string; nRows: number }>('POST', '/v1/datasets', form);
  write(`dataset ${dataset.id} (${dataset.nRows} rows)\n`);
  const split = await client.request<{ id: string; sizes: { train: number; val: number; test: number } }>('POST', `/v1/datasets/${dataset.id}/splits`, { method: 'random', seed: o.seed ?? 0 });
  write(`split ${split.id} (train ${split.sizes.train}, val ${split.sizes.val}, test ${split.sizes.test})\n`);
  const job = await client.request<{ id: string }>('POST', '/v1/jobs', {
    type: 'fine-tune', dataset: dataset.id, split: split.id, name: o.name, experts: o.experts ?? 'all',
    ...(o.k ? { k: o.k } : {}), ...(o.epochs ? { epochs: o.epochs } : {}), ...(o.patience !== undefined ? { patience: o.patience } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.loss ? { loss: o.loss } : {}), ...(o.gateInit ? { gateInit: o.gateInit } : {}), ...(o.gateWarmup !== undefined ? { gateWarmup: o.gateWarmup } : {}),
  });
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
