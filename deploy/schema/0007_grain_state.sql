-- Grain state of the job store: one row per grain, written by the silos' batched grain storage
-- (OrleansJobs.Storage.BatchedGrainStorage). Concurrent writes of many jobs go to the server
-- together, as one statement and one commit (group commit); each row is still guarded by its
-- own version, so a stale activation's write is refused exactly as with one statement per write.
--
-- grain_id is the Orleans grain id as text (for a job: "job/<job id>"); payload is the state as
-- JSON (OrleansJobs.Storage.JsonGrainStorageSerializer), readable with psql.
CREATE TABLE grain_state (
    grain_id     text        NOT NULL,
    state_name   text        NOT NULL,
    version      integer     NOT NULL,
    payload      bytea       NOT NULL,
    modified_on  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_grain_state PRIMARY KEY (grain_id, state_name)
) WITH (fillfactor = 80); -- room on each page for HOT updates: a checkpoint rewrites the row, not the index
