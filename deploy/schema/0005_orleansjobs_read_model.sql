-- OrleansJobs read model: the project's own tables beside Orleans' tables.
--
-- Grain state (OrleansStorage) is the truth. These tables are projections that make jobs
-- queryable and auditable; the job grain writes them after each persisted change, through a
-- per-silo batcher. Re-flushing after a crash must be harmless, so:
--   * job_index rows are only overwritten by a newer state_version;
--   * job_journal is unique on (job_id, seq) and inserts ignore duplicates.

-- One row per job.
CREATE TABLE job_index (
    job_id            text             NOT NULL PRIMARY KEY,
    job_type          text             NOT NULL,
    status            text             NOT NULL,
    priority          integer          NOT NULL DEFAULT 0,
    library_id        text             NULL,
    device_id         text             NULL,
    progress          double precision NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    processed         bigint           NOT NULL DEFAULT 0,
    total             bigint           NULL,
    owner_silo        text             NULL,
    attempt           integer          NOT NULL DEFAULT 0,
    recoveries        integer          NOT NULL DEFAULT 0,
    queued_reason     text             NULL,
    error             text             NULL,
    idempotency_key   text             NULL,
    created_at        timestamptz      NOT NULL,
    run_after         timestamptz      NULL,
    started_at        timestamptz      NULL,
    finished_at       timestamptz      NULL,
    last_progress_at  timestamptz      NULL,
    updated_at        timestamptz      NOT NULL,
    state_version     bigint           NOT NULL,
    CONSTRAINT ck_job_index_status CHECK (status IN
        ('Queued', 'Running', 'Paused', 'Cancelling', 'Cancelled', 'Completed', 'Failed', 'Killed'))
);

-- Listing newest first with keyset pagination: (created_at, job_id) is the cursor.
CREATE INDEX ix_job_index_created ON job_index (created_at DESC, job_id DESC);
CREATE INDEX ix_job_index_status_created ON job_index (status, created_at DESC, job_id DESC);
CREATE INDEX ix_job_index_type_status_created ON job_index (job_type, status, created_at DESC, job_id DESC);
-- Recovery sweep: active jobs of a silo that died. Partial, so it stays small.
CREATE INDEX ix_job_index_active_owner ON job_index (owner_silo)
    WHERE status IN ('Queued', 'Running', 'Paused', 'Cancelling');
-- Stall detection over running jobs.
CREATE INDEX ix_job_index_running_progress ON job_index (last_progress_at)
    WHERE status IN ('Running', 'Cancelling');
-- Retention cleanup of terminal jobs.
CREATE INDEX ix_job_index_finished ON job_index (finished_at)
    WHERE finished_at IS NOT NULL;
CREATE INDEX ix_job_index_library ON job_index (library_id, status) WHERE library_id IS NOT NULL;
CREATE INDEX ix_job_index_device ON job_index (device_id, status) WHERE device_id IS NOT NULL;

-- Append-only lifecycle entries of each job.
CREATE TABLE job_journal (
    job_id       text        NOT NULL,
    seq          bigint      NOT NULL,
    at           timestamptz NOT NULL,
    entry_type   text        NOT NULL,
    from_status  text        NULL,
    to_status    text        NULL,
    reason       text        NULL,
    actor        text        NULL,
    silo         text        NULL,
    data         jsonb       NULL,
    CONSTRAINT pk_job_journal PRIMARY KEY (job_id, seq)
);

-- Cross-job audit queries ("every recovery in the last hour").
CREATE INDEX ix_job_journal_type_at ON job_journal (entry_type, at);

-- Files of each library, as the analyze job found them.
CREATE TABLE library_catalog (
    library_id     text        NOT NULL,
    relative_path  text        NOT NULL,
    size_bytes     bigint      NOT NULL CHECK (size_bytes >= 0),
    modified_at    timestamptz NOT NULL,
    sha256         bytea       NULL CHECK (sha256 IS NULL OR octet_length(sha256) = 32),
    job_id         text        NULL,
    scanned_at     timestamptz NOT NULL,
    CONSTRAINT pk_library_catalog PRIMARY KEY (library_id, relative_path)
);

-- Duplicate detection and "do we already have this content".
CREATE INDEX ix_library_catalog_sha256 ON library_catalog (library_id, sha256) WHERE sha256 IS NOT NULL;

-- The organize job's transaction log: one row per planned file operation.
CREATE TABLE file_operations (
    job_id         text        NOT NULL,
    op_seq         bigint      NOT NULL,
    library_id     text        NOT NULL,
    operation      text        NOT NULL CHECK (operation IN ('copy', 'move')),
    source_path    text        NOT NULL,
    target_path    text        NOT NULL,
    sha256         bytea       NULL CHECK (sha256 IS NULL OR octet_length(sha256) = 32),
    status         text        NOT NULL CHECK (status IN
        ('planned', 'in_progress', 'completed', 'skipped', 'failed', 'rolled_back')),
    error          text        NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT pk_file_operations PRIMARY KEY (job_id, op_seq)
);

CREATE INDEX ix_file_operations_job_status ON file_operations (job_id, status);
-- Two operations must never claim the same target in a library.
CREATE INDEX ix_file_operations_target ON file_operations (library_id, target_path);
