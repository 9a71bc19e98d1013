-- Libraries: one row per library, written by its grain (the grain state is the truth; this is
-- what listings read, and what keeps two libraries from sharing a folder).
CREATE TABLE libraries (
    library_id  text        NOT NULL PRIMARY KEY,
    name        text        NOT NULL,
    root        text        NOT NULL,
    settings    jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    version     bigint      NOT NULL,
    CONSTRAINT uq_libraries_root UNIQUE (root)
);

-- Catalog paths compare byte by byte, so that a path prefix is a range of the primary key and
-- pages follow the same order on every server.
ALTER TABLE library_catalog ALTER COLUMN relative_path TYPE text COLLATE "C";
-- A file the last analysis did not find any more keeps its row, marked removed.
ALTER TABLE library_catalog ADD COLUMN removed_at timestamptz NULL;

-- The transaction log: sizes, a note (a warning such as a renamed target), and the operation an
-- undo reverses. An undo removes a copy (undo_copy) or moves a file back (undo_move).
ALTER TABLE file_operations ALTER COLUMN source_path TYPE text COLLATE "C";
ALTER TABLE file_operations ALTER COLUMN target_path TYPE text COLLATE "C";
ALTER TABLE file_operations ADD COLUMN size_bytes bigint NULL CHECK (size_bytes IS NULL OR size_bytes >= 0);
ALTER TABLE file_operations ADD COLUMN note text NULL;
ALTER TABLE file_operations ADD COLUMN reverts_job_id text NULL;
ALTER TABLE file_operations ADD COLUMN reverts_op_seq bigint NULL;
ALTER TABLE file_operations DROP CONSTRAINT file_operations_operation_check;
ALTER TABLE file_operations ADD CONSTRAINT ck_file_operations_operation
    CHECK (operation IN ('copy', 'move', 'undo_copy', 'undo_move'));
CREATE INDEX ix_file_operations_reverts ON file_operations (reverts_job_id, reverts_op_seq) WHERE reverts_job_id IS NOT NULL;
