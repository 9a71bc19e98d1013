-- The transaction log of file jobs is written a batch at a time (one UPDATE per batch of
-- operations). No query looks operations up by library and target: the index only cost a write
-- per row on every plan and every status change.
DROP INDEX IF EXISTS ix_file_operations_target;
