-- Effects of the `synthetic` job type, the job type tests and benchmarks use.
--
-- An item's effect is recorded once (unique per job and item), whatever happens; every
-- execution of an item is counted separately. Redone work (allowed, at most one checkpoint
-- interval per recovery) shows as executions > 1; a duplicated effect cannot exist.
CREATE TABLE synthetic_item_effects (
    job_id      text        NOT NULL,
    item        bigint      NOT NULL,
    attempt     integer     NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_synthetic_item_effects PRIMARY KEY (job_id, item)
);

CREATE TABLE synthetic_item_executions (
    job_id      text        NOT NULL,
    item        bigint      NOT NULL,
    executions  integer     NOT NULL,
    last_at     timestamptz NOT NULL,
    CONSTRAINT pk_synthetic_item_executions PRIMARY KEY (job_id, item)
);
