import type { Queryable } from './pool.js';

export type DatasetInputKind = 'formula' | 'structure' | 'cif' | 'poscar';

export interface TargetStats {
  count: number;
  mean: number;
  /** Population standard deviation (ddof = 0). */
  std: number;
  min: number;
  max: number;
  median: number;
}

export type Visibility = 'private' | 'public';

/** Who is asking: a principal's name, or null for an anonymous reader (who sees public rows only). */
export type Viewer = string | null;

export interface DatasetRecord {
  id: string;
  owner: string;
  visibility: Visibility;
  name: string;
  property: string;
  unit: string;
  contentHash: string;
  nRows: number;
  inputKinds: DatasetInputKind[];
  /** Every row has a target (a training set); false: inputs only (candidates to screen). */
  labelled: boolean;
  targetStats: TargetStats | null;
  createdAt: Date;
}

export interface DatasetRowRecord {
  index: number;
  kind: DatasetInputKind;
  /** The input as stored: exactly one of formula / structure / cif / poscar. */
  input: Record<string, unknown>;
  /** Reduced formula. */
  formula: string;
  /** null in an unlabelled dataset. */
  target: number | null;
  /** The uploader's own id for the row, when the upload had an `id` column. */
  externalId: string | null;
}

/** What is inserted: the record without what the database assigns, plus the rows. */
export type NewDataset = Omit<DatasetRecord, 'id' | 'nRows' | 'createdAt'> & { rows: readonly DatasetRowRecord[] };

const COLUMNS = `id, owner, visibility, name, property, unit, content_hash AS "contentHash", n_rows AS "nRows", input_kinds AS "inputKinds", labelled,
  target_stats AS "targetStats", created_at AS "createdAt"`;

/** Rows per INSERT, bounded also by bytes so that a batch of large CIFs stays a modest statement. */
const BATCH_ROWS = 5000;
const BATCH_BYTES = 8 * 1024 * 1024;

/** What `viewer` may read: its own rows and published ones ($1 is the viewer). */
export const VISIBLE_TO = `(visibility = 'public' OR owner = $1)`;

/** The owner's dataset with this content, if they uploaded it before. */
export async function findDatasetByHash(db: Queryable, owner: string, contentHash: string): Promise<DatasetRecord | undefined> {
  const { rows } = await db.query<DatasetRecord>(`SELECT ${COLUMNS} FROM datasets WHERE owner = $1 AND content_hash = $2`, [owner, contentHash]);
  return rows[0];
}

/** Inserts the dataset and all its rows; call inside a transaction so that a failure stores nothing. */
export async function insertDataset(db: Queryable, d: NewDataset): Promise<DatasetRecord> {
  const { rows } = await db.query<DatasetRecord>(
    `INSERT INTO datasets (owner, visibility, name, property, unit, content_hash, n_rows, input_kinds, labelled, target_stats)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
    [d.owner, d.visibility, d.name, d.property, d.unit, d.contentHash, d.rows.length, d.inputKinds, d.labelled, d.targetStats],
  );
  const dataset = rows[0];
  let start = 0;
  while (start < d.rows.length) {
    const idx: number[] = [];
    const kinds: string[] = [];
    const inputs: string[] = [];
    const formulas: string[] = [];
    const targets: (number | null)[] = [];
    const ids: (string | null)[] = [];
    let bytes = 0;
    let k = start;
    for (; k < d.rows.length && k - start < BATCH_ROWS && bytes < BATCH_BYTES; k++) {
      const r = d.rows[k];
      const json = JSON.stringify(r.input);
      bytes += json.length;
      idx.push(r.index);
      kinds.push(r.kind);
      inputs.push(json);
      formulas.push(r.formula);
      targets.push(r.target);
      ids.push(r.externalId);
    }
    await db.query(
      `INSERT INTO dataset_rows (dataset_id, idx, input_kind, input, formula, target, external_id)
       SELECT $1, u.idx, u.kind, u.input::jsonb, u.formula, u.target, u.external_id
       FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::text[]) AS u(idx, kind, input, formula, target, external_id)`,
      [dataset.id, idx, kinds, inputs, formulas, targets, ids],
    );
    start = k;
  }
  return dataset;
}

/** The dataset if `viewer` may read it (undefined otherwise, as if it did not exist). */
export async function getDataset(db: Queryable, viewer: Viewer, id: string): Promise<DatasetRecord | undefined> {
  const { rows } = await db.query<DatasetRecord>(`SELECT ${COLUMNS} FROM datasets WHERE id = $2 AND ${VISIBLE_TO}`, [viewer, id]);
  return rows[0];
}

/** Newest first: the viewer's own datasets and the published ones. */
export async function listDatasets(db: Queryable, viewer: Viewer, limit: number, offset: number): Promise<{ items: DatasetRecord[]; total: number }> {
  const [page, count] = await Promise.all([
    db.query<DatasetRecord>(`SELECT ${COLUMNS} FROM datasets WHERE ${VISIBLE_TO} ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`, [viewer, limit, offset]),
    db.query<{ total: number }>(`SELECT count(*)::int AS total FROM datasets WHERE ${VISIBLE_TO}`, [viewer]),
  ]);
  return { items: page.rows, total: count.rows[0].total };
}

export async function setDatasetVisibility(db: Queryable, owner: string, id: string, visibility: Visibility): Promise<DatasetRecord | undefined> {
  const { rows } = await db.query<DatasetRecord>(`UPDATE datasets SET visibility = $3 WHERE owner = $1 AND id = $2 RETURNING ${COLUMNS}`, [owner, id, visibility]);
  return rows[0];
}

/** Rows in index order; `limit` undefined reads them all (training). */
export async function getDatasetRows(db: Queryable, id: string, limit?: number, offset = 0): Promise<DatasetRowRecord[]> {
  const { rows } = await db.query<DatasetRowRecord>(
    `SELECT idx AS index, input_kind AS kind, input, formula, target, external_id AS "externalId"
     FROM dataset_rows WHERE dataset_id = $1 ORDER BY idx LIMIT $2 OFFSET $3`,
    [id, limit ?? null, offset],
  );
  return rows;
}

export async function inputKindCounts(db: Queryable, id: string): Promise<Partial<Record<DatasetInputKind, number>>> {
  const { rows } = await db.query<{ kind: DatasetInputKind; n: number }>(
    `SELECT input_kind AS kind, count(*)::int AS n FROM dataset_rows WHERE dataset_id = $1 GROUP BY input_kind`,
    [id],
  );
  return Object.fromEntries(rows.map((r) => [r.kind, r.n]));
}

/** Locks the owner's dataset row until the transaction ends (delete vs. concurrent split creation). */
export async function lockDataset(db: Queryable, owner: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM datasets WHERE owner = $1 AND id = $2 FOR UPDATE`, [owner, id]);
  return rowCount === 1;
}

/** Models built from the dataset (or one of its splits), and queued or running jobs whose payload names it. */
export async function datasetUsage(db: Queryable, id: string): Promise<{ models: string[]; jobs: string[] }> {
  const [models, jobs] = await Promise.all([
    db.query<{ id: string }>(
      `SELECT id FROM models WHERE dataset_id = $1 OR split_id IN (SELECT id FROM splits WHERE dataset_id = $1) ORDER BY created_at LIMIT 100`,
      [id],
    ),
    db.query<{ id: string }>(
      `SELECT id FROM jobs WHERE state IN ('queued', 'active') AND payload->>'dataset' = $1::text ORDER BY created_at LIMIT 100`,
      [id],
    ),
  ]);
  return { models: models.rows.map((r) => r.id), jobs: jobs.rows.map((r) => r.id) };
}

/** Deletes the dataset with its splits and rows; the caller has checked that nothing uses it. */
export async function deleteDataset(db: Queryable, id: string): Promise<boolean> {
  await db.query(`DELETE FROM splits WHERE dataset_id = $1`, [id]);
  const { rowCount } = await db.query(`DELETE FROM datasets WHERE id = $1`, [id]);
  return rowCount === 1;
}
