-- Private data per API key. Datasets, jobs and fine-tuned models belong to the principal that created them; other
-- principals and anonymous readers do not see them unless they are published (visibility 'public'). Splits belong to
-- their dataset. Shipped models are public. Rows from before this migration belong to 'default', the principal of a
-- bare key in API_KEYS, so a deployment that used bare keys sees its data as before.

ALTER TABLE datasets ADD COLUMN owner text NOT NULL DEFAULT 'default' CHECK (owner ~ '^[A-Za-z0-9_.-]{1,64}$');
ALTER TABLE datasets ADD COLUMN visibility text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public'));
ALTER TABLE datasets ALTER COLUMN owner DROP DEFAULT;
-- The same content uploaded by two principals is two datasets: a shared hash would tell one of the other's data.
ALTER TABLE datasets DROP CONSTRAINT datasets_content_hash_key;
CREATE UNIQUE INDEX datasets_owner_hash_idx ON datasets (owner, content_hash);

ALTER TABLE models ADD COLUMN owner text CHECK (owner IS NULL OR owner ~ '^[A-Za-z0-9_.-]{1,64}$');
ALTER TABLE models ADD COLUMN visibility text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public'));
UPDATE models SET owner = 'default' WHERE NOT shipped;
UPDATE models SET visibility = 'public' WHERE shipped;
ALTER TABLE models ADD CONSTRAINT models_owner_or_shipped CHECK (shipped OR owner IS NOT NULL);

ALTER TABLE jobs ADD COLUMN owner text NOT NULL DEFAULT 'default' CHECK (owner ~ '^[A-Za-z0-9_.-]{1,64}$');
ALTER TABLE jobs ALTER COLUMN owner DROP DEFAULT;
-- An Idempotency-Key is the client's, so it is unique per principal; the request it came with is remembered by a hash
-- so that the same key with another body is refused instead of silently answered with the first job.
ALTER TABLE jobs DROP CONSTRAINT jobs_idempotency_key_key;
CREATE UNIQUE INDEX jobs_owner_idempotency_idx ON jobs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE jobs ADD COLUMN request_hash text CHECK (request_hash IS NULL OR request_hash ~ '^[0-9a-f]{64}$');

-- Two fine-tune jobs can never be pending for the same model name: the second is refused when it is submitted (409),
-- not after it has trained. With models.name UNIQUE this makes every name's future owner unambiguous.
CREATE UNIQUE INDEX jobs_pending_model_name_idx ON jobs ((payload->>'name'))
  WHERE type = 'fine-tune' AND state IN ('queued', 'active');

CREATE INDEX datasets_visible_idx ON datasets (owner, created_at DESC);
CREATE INDEX models_owner_idx ON models (owner);
CREATE INDEX jobs_owner_idx ON jobs (owner, created_at DESC);
