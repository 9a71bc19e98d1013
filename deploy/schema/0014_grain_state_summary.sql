-- What a grain's state says in a few words, written in the same statement as the state (for a job:
-- its status and version, "Completed@7", or "absent" once it is purged). The state validator
-- compares it with the job's index row without reading the JSON of every state. Rows written
-- before this column have NULL here; the validator reads their JSON instead.
ALTER TABLE grain_state ADD COLUMN summary text NULL;

-- The jobs stored before: their summary from their JSON, once, here.
UPDATE grain_state
SET summary = CASE WHEN coalesce((convert_from(payload, 'UTF8')::jsonb ->> 'Exists')::boolean, false)
    THEN (convert_from(payload, 'UTF8')::jsonb ->> 'Status') || '@' || (convert_from(payload, 'UTF8')::jsonb ->> 'Version')
    ELSE 'absent' END
WHERE state_name = 'job' AND summary IS NULL;

-- File operations an ended job left in progress, found by the validator without scanning the log.
CREATE INDEX ix_file_operations_in_progress ON file_operations (job_id) WHERE status = 'in_progress';
