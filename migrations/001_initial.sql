-- Initial schema: experts, datasets and their rows, splits, models, jobs.
-- Non-finite numbers are rejected by CHECKs: in PostgreSQL NaN sorts above +Infinity, so "x < 'Infinity'" also excludes NaN.

CREATE OR REPLACE FUNCTION matmoe_touch_updated_at() RETURNS trigger AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TABLE experts (
  key            text PRIMARY KEY CHECK (key ~ '^[A-Za-z0-9_.-]{1,100}$'),
  kind           text NOT NULL CHECK (kind IN ('cgcnn', 'composition')),
  property       text NOT NULL,
  unit           text NOT NULL,
  source_dataset text,
  val_mae        double precision CHECK (val_mae IS NULL OR (val_mae >= 0 AND val_mae < 'Infinity')),
  architecture   jsonb NOT NULL,
  card           jsonb NOT NULL,
  weights        bytea NOT NULL,
  sha256         text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE datasets (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  property     text NOT NULL CHECK (length(property) BETWEEN 1 AND 200),
  unit         text NOT NULL CHECK (length(unit) <= 50),
  content_hash text NOT NULL UNIQUE CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  n_rows       integer NOT NULL CHECK (n_rows > 0),
  input_kinds  text[] NOT NULL,
  target_stats jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dataset_rows (
  dataset_id uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  idx        integer NOT NULL CHECK (idx >= 0),
  input_kind text NOT NULL CHECK (input_kind IN ('formula', 'structure', 'cif', 'poscar')),
  input      jsonb NOT NULL,
  formula    text NOT NULL,
  target     double precision NOT NULL CHECK (target > '-Infinity' AND target < 'Infinity'),
  PRIMARY KEY (dataset_id, idx)
);

CREATE TABLE splits (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  dataset_id   uuid NOT NULL REFERENCES datasets (id) ON DELETE RESTRICT,
  method       text NOT NULL CHECK (method IN ('random', 'explicit')),
  seed         integer,
  fractions    double precision[],
  train        integer[] NOT NULL CHECK (cardinality(train) > 0),
  val          integer[] NOT NULL,
  test         integer[] NOT NULL,
  content_hash text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (dataset_id, content_hash)
);

CREATE TABLE jobs (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type            text NOT NULL,
  state           text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'active', 'completed', 'failed', 'cancelled')),
  payload         jsonb NOT NULL,
  progress        jsonb,
  result          jsonb,
  error           text,
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  backend         text,
  idempotency_key text UNIQUE,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz
);
CREATE INDEX jobs_state_idx ON jobs (state, created_at);

CREATE TABLE models (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.-]{1,100}$'),
  property    text NOT NULL,
  unit        text NOT NULL,
  dataset_id  uuid REFERENCES datasets (id) ON DELETE RESTRICT,
  split_id    uuid REFERENCES splits (id) ON DELETE RESTRICT,
  job_id      uuid REFERENCES jobs (id) ON DELETE SET NULL,
  input_kinds text[] NOT NULL,
  config      jsonb NOT NULL,
  experts     jsonb NOT NULL,
  metrics     jsonb NOT NULL,
  weights     bytea NOT NULL,
  checksum    text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
  version     integer NOT NULL DEFAULT 1 CHECK (version > 0),
  shipped     boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX models_property_idx ON models (property);

CREATE TRIGGER experts_touch BEFORE UPDATE ON experts FOR EACH ROW EXECUTE FUNCTION matmoe_touch_updated_at();
CREATE TRIGGER datasets_touch BEFORE UPDATE ON datasets FOR EACH ROW EXECUTE FUNCTION matmoe_touch_updated_at();
CREATE TRIGGER splits_touch BEFORE UPDATE ON splits FOR EACH ROW EXECUTE FUNCTION matmoe_touch_updated_at();
CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION matmoe_touch_updated_at();
CREATE TRIGGER models_touch BEFORE UPDATE ON models FOR EACH ROW EXECUTE FUNCTION matmoe_touch_updated_at();
