-- Datasets of inputs without targets (candidates to screen with a batch-prediction job): a dataset is labelled when
-- every row has a target, unlabelled when none has; fine-tuning needs a labelled one.
ALTER TABLE datasets ADD COLUMN labelled boolean NOT NULL DEFAULT true;
ALTER TABLE datasets ALTER COLUMN target_stats DROP NOT NULL;
ALTER TABLE datasets ADD CONSTRAINT datasets_stats_if_labelled CHECK (labelled = (target_stats IS NOT NULL));
ALTER TABLE dataset_rows ALTER COLUMN target DROP NOT NULL;

-- What a job produced besides its result row: the predictions of a batch-prediction job, as gzipped JSON lines. Written
-- in the transaction that completes the job, so a completed job always has its output and a failed one has none.
CREATE TABLE job_outputs (
  job_id       uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
  media_type   text NOT NULL,
  rows         integer NOT NULL CHECK (rows >= 0),
  bytes        bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
