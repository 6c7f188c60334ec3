import type { Queryable } from './pool.js';

export type SplitMethod = 'random' | 'explicit';

export interface SplitSummaryRecord {
  id: string;
  datasetId: string;
  method: SplitMethod;
  seed: number | null;
  fractions: number[] | null;
  sizes: { train: number; val: number; test: number };
  contentHash: string;
  createdAt: Date;
}

export interface SplitRecord extends SplitSummaryRecord {
  train: number[];
  val: number[];
  test: number[];
}

export interface NewSplit {
  datasetId: string;
  method: SplitMethod;
  seed: number | null;
  fractions: number[] | null;
  train: readonly number[];
  val: readonly number[];
  test: readonly number[];
  contentHash: string;
}

const SUMMARY = `id, dataset_id AS "datasetId", method, seed, fractions,
  json_build_object('train', cardinality(train), 'val', cardinality(val), 'test', cardinality(test)) AS sizes,
  content_hash AS "contentHash", created_at AS "createdAt"`;
const FULL = `${SUMMARY}, train, val, test`;

/** Returns undefined when the same split content already exists for the dataset (the caller then reads that one). */
export async function insertSplit(db: Queryable, s: NewSplit): Promise<SplitRecord | undefined> {
  const { rows } = await db.query<SplitRecord>(
    `INSERT INTO splits (dataset_id, method, seed, fractions, train, val, test, content_hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (dataset_id, content_hash) DO NOTHING RETURNING ${FULL}`,
    [s.datasetId, s.method, s.seed, s.fractions, s.train, s.val, s.test, s.contentHash],
  );
  return rows[0];
}

export async function findSplitByHash(db: Queryable, datasetId: string, contentHash: string): Promise<SplitRecord | undefined> {
  const { rows } = await db.query<SplitRecord>(`SELECT ${FULL} FROM splits WHERE dataset_id = $1 AND content_hash = $2`, [datasetId, contentHash]);
  return rows[0];
}

/** Oldest first, so that the first split a user made stays first. */
export async function listSplits(db: Queryable, datasetId: string): Promise<SplitSummaryRecord[]> {
  const { rows } = await db.query<SplitSummaryRecord>(`SELECT ${SUMMARY} FROM splits WHERE dataset_id = $1 ORDER BY created_at, id`, [datasetId]);
  return rows;
}

export async function getSplit(db: Queryable, datasetId: string, splitId: string): Promise<SplitRecord | undefined> {
  const { rows } = await db.query<SplitRecord>(`SELECT ${FULL} FROM splits WHERE dataset_id = $1 AND id = $2`, [datasetId, splitId]);
  return rows[0];
}
