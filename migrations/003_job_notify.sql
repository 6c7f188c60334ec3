-- Every change of a job row is announced on channel matmoe_jobs (payload: the job id), so API replicas can stream
-- progress to clients (Server-Sent Events) without polling.
CREATE OR REPLACE FUNCTION matmoe_notify_job() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('matmoe_jobs', NEW.id::text);
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION matmoe_notify_job();
