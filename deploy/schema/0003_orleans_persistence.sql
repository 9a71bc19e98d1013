-- Grain state (Orleans.Persistence.AdoNet), PostgreSQL. Job checkpoints live here.
--
-- Version is the ETag. A write names the version it read; a write with a stale version, or a
-- first write for a grain that already has a row, returns no row, which the provider reports as
-- an InconsistentStateException. Unlike a check-then-insert, the unique key makes two racing
-- first writes (say a zombie activation and its successor) impossible to both succeed.
CREATE TABLE OrleansStorage (
    GrainIdHash             integer      NOT NULL,
    GrainIdN0               bigint       NOT NULL,
    GrainIdN1               bigint       NOT NULL,
    GrainTypeHash           integer      NOT NULL,
    GrainTypeString         varchar(512) NOT NULL,
    GrainIdExtensionString  varchar(512) NULL,
    ServiceId               varchar(150) NOT NULL,
    PayloadBinary           bytea        NULL,
    ModifiedOn              timestamptz  NOT NULL DEFAULT now(),
    Version                 integer      NULL
);

-- The hashes lead so lookups are selective; the rest make the key exact.
CREATE UNIQUE INDEX UX_OrleansStorage_Key ON OrleansStorage
    (GrainIdHash, GrainTypeHash, ServiceId, GrainIdN0, GrainIdN1, GrainTypeString, (coalesce(GrainIdExtensionString, '')));

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('ReadFromStorageKey', $q$
    SELECT PayloadBinary, Version
    FROM OrleansStorage
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND ServiceId = @ServiceId
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1 AND GrainTypeString = @GrainTypeString
      AND coalesce(GrainIdExtensionString, '') = coalesce(@GrainIdExtensionString, '')
$q$),

('WriteToStorageKey', $q$
    WITH updated AS (
        UPDATE OrleansStorage
        SET PayloadBinary = @PayloadBinary, ModifiedOn = now(), Version = Version + 1
        WHERE @GrainStateVersion IS NOT NULL
          AND GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND ServiceId = @ServiceId
          AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1 AND GrainTypeString = @GrainTypeString
          AND coalesce(GrainIdExtensionString, '') = coalesce(@GrainIdExtensionString, '')
          AND Version = @GrainStateVersion
        RETURNING Version
    ), inserted AS (
        INSERT INTO OrleansStorage
            (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString,
             ServiceId, PayloadBinary, ModifiedOn, Version)
        SELECT @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString, @GrainIdExtensionString,
               @ServiceId, @PayloadBinary, now(), 1
        WHERE @GrainStateVersion IS NULL
        ON CONFLICT DO NOTHING
        RETURNING Version
    )
    SELECT Version AS NewGrainStateVersion FROM updated
    UNION ALL
    SELECT Version FROM inserted
$q$),

-- Clearing keeps the row (and bumps the version) so a stale writer still conflicts afterwards.
('ClearStorageKey', $q$
    UPDATE OrleansStorage
    SET PayloadBinary = NULL, ModifiedOn = now(), Version = Version + 1
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND ServiceId = @ServiceId
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1 AND GrainTypeString = @GrainTypeString
      AND coalesce(GrainIdExtensionString, '') = coalesce(@GrainIdExtensionString, '')
      AND Version = @GrainStateVersion
    RETURNING Version AS NewGrainStateVersion
$q$),

-- Used only with DeleteStateOnClear; answers version + 1 so the provider sees a change.
('DeleteStorageKey', $q$
    DELETE FROM OrleansStorage
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND ServiceId = @ServiceId
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1 AND GrainTypeString = @GrainTypeString
      AND coalesce(GrainIdExtensionString, '') = coalesce(@GrainIdExtensionString, '')
      AND Version = @GrainStateVersion
    RETURNING Version + 1 AS NewGrainStateVersion
$q$);
