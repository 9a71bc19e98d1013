-- A pause request waits for the run's current item: the job is Pausing until the run has stopped
-- at its item boundary and the checkpoint is saved (like Cancelling before Cancelled).
ALTER TABLE job_index DROP CONSTRAINT ck_job_index_status;
ALTER TABLE job_index ADD CONSTRAINT ck_job_index_status CHECK (status IN
    ('Queued', 'Running', 'Paused', 'Pausing', 'Cancelling', 'Cancelled', 'Completed', 'Failed', 'Killed'));

DROP INDEX ix_job_index_active_owner;
CREATE INDEX ix_job_index_active_owner ON job_index (owner_silo)
    WHERE status IN ('Queued', 'Running', 'Paused', 'Pausing', 'Cancelling');
DROP INDEX ix_job_index_running_progress;
CREATE INDEX ix_job_index_running_progress ON job_index (last_progress_at)
    WHERE status IN ('Running', 'Pausing', 'Cancelling');
