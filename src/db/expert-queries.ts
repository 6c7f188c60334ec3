import type { Queryable } from './pool.js';

export type ExpertKind = 'cgcnn' | 'composition';

export interface ExpertRecord {
  key: string;
  kind: ExpertKind;
  property: string;
  unit: string;
  sourceDataset: string | null;
  valMae: number | null;
  architecture: Record<string, unknown>;
  card: Record<string, unknown>;
  sha256: string;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `key, kind, property, unit, source_dataset AS "sourceDataset", val_mae AS "valMae", architecture, card, sha256,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface ExpertSeed extends Omit<ExpertRecord, 'createdAt' | 'updatedAt'> {
  weights: Uint8Array;
}

/** Idempotent: an unchanged expert (same sha256) is left untouched; a changed file replaces the stored weights. */
export async function upsertExpert(db: Queryable, e: ExpertSeed): Promise<'inserted' | 'updated' | 'unchanged'> {
  const { rows } = await db.query<{ inserted: boolean } & { changed: boolean }>(
    `INSERT INTO experts (key, kind, property, unit, source_dataset, val_mae, architecture, card, weights, sha256)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, property = EXCLUDED.property, unit = EXCLUDED.unit,
       source_dataset = EXCLUDED.source_dataset, val_mae = EXCLUDED.val_mae, architecture = EXCLUDED.architecture,
       card = EXCLUDED.card, weights = EXCLUDED.weights, sha256 = EXCLUDED.sha256
     WHERE experts.sha256 IS DISTINCT FROM EXCLUDED.sha256 OR experts.card IS DISTINCT FROM EXCLUDED.card
     RETURNING (xmax = 0) AS inserted`,
    [e.key, e.kind, e.property, e.unit, e.sourceDataset, e.valMae, e.architecture, e.card, Buffer.from(e.weights), e.sha256],
  );
  if (rows.length === 0) return 'unchanged';
  return rows[0].inserted ? 'inserted' : 'updated';
}

export async function listExperts(db: Queryable, kind?: ExpertKind): Promise<ExpertRecord[]> {
  const { rows } = kind
    ? await db.query<ExpertRecord>(`SELECT ${COLUMNS} FROM experts WHERE kind = $1 ORDER BY kind, key`, [kind])
    : await db.query<ExpertRecord>(`SELECT ${COLUMNS} FROM experts ORDER BY kind, key`);
  return rows;
}

export async function getExpert(db: Queryable, key: string): Promise<ExpertRecord | undefined> {
  const { rows } = await db.query<ExpertRecord>(`SELECT ${COLUMNS} FROM experts WHERE key = $1`, [key]);
  return rows[0];
}

export async function getExpertWeights(db: Queryable, key: string): Promise<{ weights: Buffer; sha256: string } | undefined> {
  const { rows } = await db.query<{ weights: Buffer; sha256: string }>(`SELECT weights, sha256 FROM experts WHERE key = $1`, [key]);
  return rows[0];
}
