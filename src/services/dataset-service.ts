/**
 * Datasets as their owners and readers meet them: created from rows (a JSON body or an uploaded file), immutable once
 * stored, found again by content, listed, read page by page, published, deleted while nothing uses them. Every
 * dataset belongs to the principal that uploaded it; others see it only once it is published.
 */
import {
  datasetUsage, deleteDataset, findDatasetByHash, getDataset, getDatasetRows, inputKindCounts, insertDataset, listDatasets, lockDataset,
  setDatasetVisibility, type DatasetRecord, type DatasetRowRecord, type Viewer, type Visibility,
} from '../db/dataset-queries.js';
import { withTransaction, type Pool } from '../db/pool.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { prepareDatasetAsync } from './datasets/content.js';
import { checkMeta, type DatasetMeta, type DatasetWarning, type PreparedDataset, type RawRow, type UploadedFile } from './datasets/limits.js';
import { parseUpload } from './datasets/upload.js';

export interface StoredDataset {
  dataset: DatasetRecord;
  /** false when the owner had uploaded the same content before: that dataset is returned. */
  created: boolean;
  warnings: DatasetWarning[];
}

const notFound = (id: string) => new NotFoundError('dataset_not_found', `there is no dataset ${id}`);

export class DatasetService {
  constructor(private readonly pool: Pool) {}

  /** Rows given as JSON values (the body of POST /v1/datasets). */
  async createFromRows(owner: string, meta: DatasetMeta & { visibility?: Visibility }, rows: readonly unknown[]): Promise<StoredDataset> {
    return this.store(owner, meta.visibility, await prepareDatasetAsync(meta, rows.map((value): RawRow => ({ value }))));
  }

  /** A CSV/JSONL/JSON file with name, property, unit (and optionally format, visibility) as form fields. */
  async createFromUpload(owner: string, fields: Readonly<Record<string, string | undefined>>, file: UploadedFile): Promise<StoredDataset> {
    const { format, ...labels } = fields;
    const meta = checkMeta(labels);
    const upload = parseUpload({ ...file, format });
    return this.store(owner, meta.visibility, await prepareDatasetAsync(meta, upload.rows, { fromText: upload.fromText, warnings: upload.warnings }));
  }

  private async store(owner: string, visibility: Visibility | undefined, prepared: PreparedDataset): Promise<StoredDataset> {
    const existing = await findDatasetByHash(this.pool, owner, prepared.contentHash);
    if (existing) return { dataset: existing, created: false, warnings: prepared.warnings };
    try {
      const dataset = await withTransaction(this.pool, (client) => insertDataset(client, { ...prepared, owner, visibility: visibility ?? 'private' }));
      return { dataset, created: true, warnings: prepared.warnings };
    } catch (err) {
      // The same content uploaded concurrently by the same owner: the loser answers with the winner's dataset.
      if ((err as { code?: string }).code === '23505') {
        const winner = await findDatasetByHash(this.pool, owner, prepared.contentHash);
        if (winner) return { dataset: winner, created: false, warnings: prepared.warnings };
      }
      throw err;
    }
  }

  list(viewer: Viewer, limit: number, offset: number): Promise<{ items: DatasetRecord[]; total: number }> {
    return listDatasets(this.pool, viewer, limit, offset);
  }

  async get(viewer: Viewer, id: string): Promise<DatasetRecord> {
    const d = await getDataset(this.pool, viewer, id);
    if (!d) throw notFound(id);
    return d;
  }

  /** A page of rows (none when `limit` is 0) and the count of rows per input kind. */
  async rows(dataset: DatasetRecord, limit: number, offset: number): Promise<{ rows: DatasetRowRecord[]; kinds: Record<string, number> }> {
    const [rows, kinds] = await Promise.all([
      limit > 0 ? getDatasetRows(this.pool, dataset.id, limit, offset) : Promise.resolve([]),
      inputKindCounts(this.pool, dataset.id),
    ]);
    return { rows, kinds };
  }

  async setVisibility(owner: string, id: string, visibility: Visibility): Promise<DatasetRecord> {
    const d = await setDatasetVisibility(this.pool, owner, id, visibility);
    if (!d) throw notFound(id);
    return d;
  }

  /** Deletes the owner's dataset with its splits, unless a model or a queued or running job uses it (409). */
  async delete(owner: string, id: string): Promise<void> {
    await withTransaction(this.pool, async (client) => {
      if (!(await lockDataset(client, owner, id))) throw notFound(id);
      const usage = await datasetUsage(client, id);
      if (usage.models.length > 0 || usage.jobs.length > 0) {
        const what = [
          usage.models.length > 0 ? `model(s) ${usage.models.join(', ')}` : '',
          usage.jobs.length > 0 ? `queued or running job(s) ${usage.jobs.join(', ')}` : '',
        ].filter(Boolean).join(' and ');
        throw new ConflictError('dataset_in_use', `dataset ${id} is used by ${what}; delete the models or wait for the jobs first`, usage);
      }
      await deleteDataset(client, id);
    });
  }
}
