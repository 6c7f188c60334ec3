import type { Viewer, Visibility } from './dataset-queries.js';
import type { Queryable } from './pool.js';

export interface ModelExpertWeight {
  key: string;
  kind: string;
  weight: number;
}

export interface ModelRecord {
  id: string;
  /** null for shipped models, which belong to the service. */
  owner: string | null;
  visibility: Visibility;
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

const COLUMNS = `id, owner, visibility, name, property, unit, dataset_id AS "datasetId", split_id AS "splitId", job_id AS "jobId",
  input_kinds AS "inputKinds", config, experts, metrics, checksum, version, shipped, created_at AS "createdAt", updated_at AS "updatedAt"`;

export type NewModel = Omit<ModelRecord, 'id' | 'version' | 'createdAt' | 'updatedAt'> & { weights: Uint8Array };

export async function insertModel(db: Queryable, m: NewModel): Promise<ModelRecord> {
  const { rows } = await db.query<ModelRecord>(
    `INSERT INTO models (owner, visibility, name, property, unit, dataset_id, split_id, job_id, input_kinds, config, experts, metrics, weights, checksum, shipped)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING ${COLUMNS}`,
    [m.owner, m.visibility, m.name, m.property, m.unit, m.datasetId, m.splitId, m.jobId, m.inputKinds, m.config, JSON.stringify(m.experts), m.metrics, Buffer.from(m.weights), m.checksum, m.shipped],
  );
  return rows[0];
}

/**
 * Shipped models are replaced in place when their file or card changes (version + 1); a running API reloads one whose
 * weights changed (caches key on the checksum), and a card-only change (wording, metrics) is read at the next start.
 * An unchanged file and card leave the row alone.
 */
export async function upsertShippedModel(db: Queryable, m: NewModel): Promise<'inserted' | 'updated' | 'unchanged'> {
  const { rows } = await db.query<{ inserted: boolean }>(
    `INSERT INTO models (owner, visibility, name, property, unit, dataset_id, split_id, job_id, input_kinds, config, experts, metrics, weights, checksum, shipped)
     VALUES (NULL, 'public', $1, $2, $3, NULL, NULL, NULL, $4, $5, $6, $7, $8, $9, true)
     ON CONFLICT (name) DO UPDATE SET property = EXCLUDED.property, unit = EXCLUDED.unit, input_kinds = EXCLUDED.input_kinds,
       config = EXCLUDED.config, experts = EXCLUDED.experts, metrics = EXCLUDED.metrics, weights = EXCLUDED.weights,
       checksum = EXCLUDED.checksum, version = models.version + 1
     WHERE models.shipped AND (models.checksum <> EXCLUDED.checksum OR models.property <> EXCLUDED.property OR models.unit <> EXCLUDED.unit
       OR models.input_kinds <> EXCLUDED.input_kinds OR models.config <> EXCLUDED.config OR models.experts <> EXCLUDED.experts
       OR models.metrics <> EXCLUDED.metrics)
     RETURNING (xmax = 0) AS inserted`,
    [m.name, m.property, m.unit, m.inputKinds, m.config, JSON.stringify(m.experts), m.metrics, Buffer.from(m.weights), m.checksum],
  );
  if (rows.length === 0) return 'unchanged';
  return rows[0].inserted ? 'inserted' : 'updated';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What `viewer` ($1) may read: shipped and published models, and its own. */
const VISIBLE_TO = `(shipped OR visibility = 'public' OR owner = $1)`;
const byIdOrName = (idOrName: string): string => (UUID.test(idOrName) ? 'id = $2' : 'name = $2');

/** By id (a uuid) or by name, if `viewer` may read it. */
export async function getModel(db: Queryable, viewer: Viewer, idOrName: string): Promise<ModelRecord | undefined> {
  const { rows } = await db.query<ModelRecord>(`SELECT ${COLUMNS} FROM models WHERE ${byIdOrName(idOrName)} AND ${VISIBLE_TO}`, [viewer, idOrName]);
  return rows[0];
}

/** The cheap per-request check of which version of a model is current. */
export async function getModelVersion(db: Queryable, viewer: Viewer, idOrName: string): Promise<{ id: string; checksum: string } | undefined> {
  const { rows } = await db.query<{ id: string; checksum: string }>(`SELECT id, checksum FROM models WHERE ${byIdOrName(idOrName)} AND ${VISIBLE_TO}`, [viewer, idOrName]);
  return rows[0];
}

/** No visibility check: callers hold a version the viewer was allowed to see. */
export async function getModelWeights(db: Queryable, id: string): Promise<{ weights: Buffer; checksum: string } | undefined> {
  const { rows } = await db.query<{ weights: Buffer; checksum: string }>(`SELECT weights, checksum FROM models WHERE id = $1`, [id]);
  return rows[0];
}

/** Shipped first, then newest first: what `viewer` may read, optionally of one property. */
export async function listModels(db: Queryable, viewer: Viewer, opts: { property?: string; limit: number; offset: number }): Promise<{ items: ModelRecord[]; total: number }> {
  const where = `WHERE ${VISIBLE_TO}${opts.property !== undefined ? ' AND property = $2' : ''}`;
  const filter = opts.property !== undefined ? [viewer, opts.property] : [viewer];
  const n = filter.length;
  const [page, count] = await Promise.all([
    db.query<ModelRecord>(`SELECT ${COLUMNS} FROM models ${where} ORDER BY shipped DESC, created_at DESC, id LIMIT $${n + 1} OFFSET $${n + 2}`, [...filter, opts.limit, opts.offset]),
    db.query<{ total: number }>(`SELECT count(*)::int AS total FROM models ${where}`, filter),
  ]);
  return { items: page.rows, total: count.rows[0].total };
}

export async function setModelVisibility(db: Queryable, owner: string, idOrName: string, visibility: Visibility): Promise<ModelRecord | undefined> {
  const { rows } = await db.query<ModelRecord>(
    `UPDATE models SET visibility = $3 WHERE owner = $1 AND NOT shipped AND ${byIdOrName(idOrName)} RETURNING ${COLUMNS}`,
    [owner, idOrName, visibility],
  );
  return rows[0];
}

export async function modelNameInUse(db: Queryable, name: string): Promise<boolean> {
  const { rows } = await db.query<{ used: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM models WHERE name = $1)
         OR EXISTS (SELECT 1 FROM jobs WHERE type = 'fine-tune' AND state IN ('queued', 'active') AND payload->>'name' = $1) AS used`,
    [name],
  );
  return rows[0].used;
}
