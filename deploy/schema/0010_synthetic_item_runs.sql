-- Every execution of a recorded synthetic item, with the silo that executed it: what proves that a
-- silo declared dead while frozen executes nothing after it wakes up, and that a redo after a crash
-- stays within the items since the last checkpoint.
CREATE TABLE synthetic_item_runs (
    job_id   text        NOT NULL,
    item     bigint      NOT NULL,
    attempt  integer     NOT NULL,
    silo     text        NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_synthetic_item_runs_silo_at ON synthetic_item_runs (silo, at);
