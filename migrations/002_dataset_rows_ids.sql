-- Datasets: the user's own row ids (CSV/JSONL "id" column), the newest-first listing, and the
-- "is this dataset used by a pending job" check made before a dataset is deleted.

ALTER TABLE dataset_rows ADD COLUMN external_id text CHECK (external_id IS NULL OR length(external_id) <= 200);

CREATE INDEX datasets_created_idx ON datasets (created_at DESC, id DESC);

CREATE INDEX jobs_pending_dataset_idx ON jobs ((payload->>'dataset')) WHERE state IN ('queued', 'active');
