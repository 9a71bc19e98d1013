-- Which silo is answerable for a grain that must not be forgotten: for a job, the silo whose
-- activation runs it or keeps it queued (NULL once it is paused or has ended). Written in the
-- same statement as the state, so it is never behind the state: the recovery sweep looks here,
-- not at the job index (a projection a silo may die before writing), for the jobs of silos
-- that are no longer members.
ALTER TABLE grain_state ADD COLUMN watched_by text NULL;

-- Only grains that are watched are in this index; it changes when a job starts or ends, not
-- at its checkpoints (those stay HOT updates).
CREATE INDEX ix_grain_state_watched_by ON grain_state (watched_by) WHERE watched_by IS NOT NULL;
