-- Training state a job saves while it runs, so that a job retried after its worker crashed resumes instead of starting
-- over: per training run of the job (a candidate recipe or an ensemble member), either the run's finished result or its
-- trainer state at the last checkpoint. Deleted with the job's completion; removed with the job.
CREATE TABLE job_checkpoints (
  job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  run_key     text NOT NULL CHECK (length(run_key) BETWEEN 1 AND 200),
  done        boolean NOT NULL,
  bytes       bytea NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, run_key)
);

-- A job makes at most one model, however many times it is run (a stalled job run twice cannot store two).
CREATE UNIQUE INDEX models_one_per_job ON models (job_id) WHERE job_id IS NOT NULL;
