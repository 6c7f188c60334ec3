import type { Queryable } from './pool.js';

export interface ModelExpertWeight {
  key: string;
  kind: string;
  weight: number;
}

export interface ModelRecord {
  id: string;
  name: string;
  property: string;
  unit: string;
  datasetId: string | null;
  splitId: string | null;
  jobId: string | null;
  inputKinds: string[];
  config: Record<string, unknown>;
  experts: ModelExpertWeight[];
  metrics: Record<string, unknown>;
  checksum: string;
  version: number;
  shipped: boolean;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, name, property, unit, dataset_id AS "datasetId", split_id AS "splitId", job_id AS "jobId",
  input_kinds AS "inputKinds", config, experts, metrics, checksum, version, shipped, created_at AS "createdAt", updated_at AS "updatedAt"`;

export type NewModel = Omit<ModelRecord, 'id' | 'version' | 'createdAt' | 'updatedAt'> & { weights: Uint8Array };

export async function insertModel(db: Queryable, m: NewModel): Promise<ModelRecord> {
  const { rows } = await db.query<ModelRecord>(
    `INSERT INTO models (name, property, unit, dataset_id, split_id, job_id, input_kinds, config, experts, metrics, weights, checksum, shipped)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${COLUMNS}`,
    [m.name, m.property, m.unit, m.datasetId, m.splitId, m.jobId, m.inputKinds, m.config, JSON.stringify(m.experts), m.metrics, Buffer.from(m.weights), m.checksum, m.shipped],
  );
  return rows[0];
}

/**
 * Shipped models are replaced in place when their file changes (version + 1), so a running API reloads them;
 * an unchanged file leaves the row alone.
 */
export async function upsertShippedModel(db: Queryable, m: NewModel): Promise<'inserted' | 'updated' | 'unchanged'> {
  const { rows } = await db.query<{ inserted: boolean }>(
    `INSERT INTO models (name, property, unit, dataset_id, split_id, job_id, input_kinds, config, experts, metrics, weights, checksum, shipped)
     VALUES ($1, $2, $3, NULL, NULL, NULL, $4, $5, $6, $7, $8, $9, true)
     ON CONFLICT (name) DO UPDATE SET property = EXCLUDED.property, unit = EXCLUDED.unit, input_kinds = EXCLUDED.input_kinds,
       config = EXCLUDED.config, experts = EXCLUDED.experts, metrics = EXCLUDED.metrics, weights = EXCLUDED.weights,
       checksum = EXCLUDED.checksum, version = models.version + 1
     WHERE models.shipped AND models.checksum <> EXCLUDED.checksum
     RETURNING (xmax = 0) AS inserted`,
    [m.name, m.property, m.unit, m.inputKinds, m.config, JSON.stringify(m.experts), m.metrics, Buffer.from(m.weights), m.checksum],
  );
  if (rows.length === 0) return 'unchanged';
  return rows[0].inserted ? 'inserted' : 'updated';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** By id (a uuid) or by name. */
export async function getModel(db: Queryable, idOrName: string): Promise<ModelRecord | undefined> {
  const { rows } = UUID.test(idOrName)
    ? await db.query<ModelRecord>(`SELECT ${COLUMNS} FROM models WHERE id = $1`, [idOrName])
    : await db.query<ModelRecord>(`SELECT ${COLUMNS} FROM models WHERE name = $1`, [idOrName]);
  return rows[0];
}

/** The cheap per-request check of which version of a model is current. */
export async function getModelVersion(db: Queryable, idOrName: string): Promise<{ id: string; checksum: string } | undefined> {
  const { rows } = UUID.test(idOrName)
    ? await db.query<{ id: string; checksum: string }>(`SELECT id, checksum FROM models WHERE id = $1`, [idOrName])
    : await db.query<{ id: string; checksum: string }>(`SELECT id, checksum FROM models WHERE name = $1`, [idOrName]);
  return rows[0];
}

export async function getModelWeights(db: Queryable, id: string): Promise<{ weights: Buffer; checksum: string } | undefined> {
  const { rows } = await db.query<{ weights: Buffer; checksum: string }>(`SELECT weights, checksum FROM models WHERE id = $1`, [id]);
  return rows[0];
}

export async function listModels(db: Queryable, opts: { property?: string; limit: number; offset: number }): Promise<{ items: ModelRecord[]; total: number }> {
  const where = opts.property ? 'WHERE property = $3' : '';
  const params: unknown[] = [opts.limit, opts.offset];
  if (opts.property) params.push(opts.property);
  const { rows } = await db.query<ModelRecord & { total: number }>(
    `SELECT ${COLUMNS}, count(*) OVER ()::int AS total FROM models ${where} ORDER BY shipped DESC, created_at DESC, id LIMIT $1 OFFSET $2`,
    params,
  );
  if (rows.length === 0 && opts.offset > 0) {
    const { rows: c } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM models ${opts.property ? 'WHERE property = $1' : ''}`, opts.property ? [opts.property] : []);
    return { items: [], total: c[0].n };
  }
  return { items: rows.map(({ total: _t, ...m }) => m), total: rows[0]?.total ?? 0 };
}

export async function modelNameTaken(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM models WHERE name = $1', [name]);
  return (rowCount ?? 0) > 0;
}
