-- What a grain's state says in a few words, written in the same statement as the state (for a job:
-- its status and version, "Completed@7", or "absent" once it is purged). The state validator
-- compares it with the job's index row without reading the JSON of every state. Rows written
-- before this column have NULL here; the validator reads their JSON instead.
ALTER TABLE grain_state ADD COLUMN summary text NULL;
