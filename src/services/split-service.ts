/**
 * Train/validation/test splits of a dataset: random (seeded, 70/15/15 by default, the paper's int() truncation) or
 * explicit index lists; the same lists again are the same split. A split is visible to whoever can read its dataset.
 */
import type { DatasetRecord, Viewer } from '../db/dataset-queries.js';
import type { Pool } from '../db/pool.js';
import { findSplitByHash, getSplit, insertSplit, listSplits, type SplitRecord, type SplitSummaryRecord } from '../db/split-queries.js';
import { NotFoundError } from '../errors.js';
import type { DatasetService } from './dataset-service.js';
import { checkExplicitSplit, DEFAULT_FRACTIONS, randomSplit, splitContentHash, type SplitIndices } from './splits.js';

export type SplitRequest =
  | { method?: 'random'; seed?: number; fractions?: number[] }
  | { method: 'explicit'; train: number[]; val?: number[]; test?: number[] };

export class SplitService {
  constructor(private readonly pool: Pool, private readonly datasets: DatasetService) {}

  /** `created` is false when the dataset already has a split with these exact index lists. */
  async create(viewer: Viewer, datasetId: string, request: SplitRequest): Promise<{ dataset: DatasetRecord; split: SplitRecord; created: boolean }> {
    const dataset = await this.datasets.get(viewer, datasetId);
    let indices: SplitIndices;
    let seed: number | null = null;
    let fractions: number[] | null = null;
    if (request.method === 'explicit') {
      indices = checkExplicitSplit(dataset.nRows, { train: request.train, val: request.val ?? [], test: request.test ?? [] });
    } else {
      seed = request.seed ?? 0;
      fractions = request.fractions ?? [...DEFAULT_FRACTIONS];
      indices = randomSplit(dataset.nRows, seed, fractions);
    }
    const contentHash = splitContentHash(indices);
    const existing = await findSplitByHash(this.pool, dataset.id, contentHash);
    if (existing) return { dataset, split: existing, created: false };
    let created: SplitRecord | undefined;
    try {
      created = await insertSplit(this.pool, { datasetId: dataset.id, method: request.method ?? 'random', seed, fractions, ...indices, contentHash });
    } catch (err) {
      // The dataset was deleted between our read and the insert.
      if ((err as { code?: string }).code === '23503') throw new NotFoundError('dataset_not_found', `there is no dataset ${dataset.id}`);
      throw err;
    }
    if (created) return { dataset, split: created, created: true };
    const winner = await findSplitByHash(this.pool, dataset.id, contentHash);
    if (!winner) throw new NotFoundError('dataset_not_found', `there is no dataset ${dataset.id}`);
    return { dataset, split: winner, created: false };
  }

  async list(viewer: Viewer, datasetId: string): Promise<{ dataset: DatasetRecord; splits: SplitSummaryRecord[] }> {
    const dataset = await this.datasets.get(viewer, datasetId);
    return { dataset, splits: await listSplits(this.pool, dataset.id) };
  }

  async get(viewer: Viewer, datasetId: string, splitId: string): Promise<{ dataset: DatasetRecord; split: SplitRecord }> {
    const dataset = await this.datasets.get(viewer, datasetId);
    const split = await getSplit(this.pool, dataset.id, splitId);
    if (!split) throw new NotFoundError('split_not_found', `dataset ${dataset.id} has no split ${splitId}`);
    return { dataset, split };
  }
}
