-- Cluster membership (Orleans.Clustering.AdoNet), PostgreSQL.
--
-- One version row per deployment acts as the table's ETag: every change to a membership row
-- bumps it, and a change carrying a stale version changes nothing. Each write below is a single
-- statement whose first step is the conditional UPDATE of the version row: that row lock
-- serializes concurrent writers of one deployment, so "bump and write" is all or nothing.
-- Queries that Orleans treats as booleans return exactly one integer column (>0 = success).

CREATE TABLE OrleansMembershipVersionTable (
    DeploymentId  varchar(150)   NOT NULL,
    Timestamp     timestamptz(3) NOT NULL DEFAULT now(),
    Version       integer        NOT NULL DEFAULT 0,
    CONSTRAINT PK_OrleansMembershipVersionTable PRIMARY KEY (DeploymentId)
);

CREATE TABLE OrleansMembershipTable (
    DeploymentId  varchar(150)   NOT NULL,
    Address       varchar(45)    NOT NULL,
    Port          integer        NOT NULL,
    Generation    integer        NOT NULL,
    SiloName      varchar(150)   NOT NULL,
    HostName      varchar(150)   NOT NULL,
    Status        integer        NOT NULL,
    ProxyPort     integer        NULL,
    SuspectTimes  text           NULL,
    StartTime     timestamptz(3) NOT NULL,
    IAmAliveTime  timestamptz(3) NOT NULL,
    CONSTRAINT PK_OrleansMembershipTable PRIMARY KEY (DeploymentId, Address, Port, Generation),
    CONSTRAINT FK_OrleansMembershipTable_Version FOREIGN KEY (DeploymentId)
        REFERENCES OrleansMembershipVersionTable (DeploymentId)
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('InsertMembershipVersionKey', $q$
    WITH created AS (
        INSERT INTO OrleansMembershipVersionTable (DeploymentId)
        VALUES (@DeploymentId)
        ON CONFLICT (DeploymentId) DO NOTHING
        RETURNING 1
    )
    SELECT count(*)::integer AS Created FROM created
$q$),

('InsertMembershipKey', $q$
    WITH bumped AS (
        UPDATE OrleansMembershipVersionTable v
        SET Version = v.Version + 1, Timestamp = now()
        WHERE v.DeploymentId = @DeploymentId
          AND v.Version = @Version
          AND NOT EXISTS (
              SELECT 1 FROM OrleansMembershipTable m
              WHERE m.DeploymentId = @DeploymentId AND m.Address = @Address
                AND m.Port = @Port AND m.Generation = @Generation)
        RETURNING v.DeploymentId
    ), inserted AS (
        INSERT INTO OrleansMembershipTable
            (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort, StartTime, IAmAliveTime)
        SELECT b.DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime
        FROM bumped b
        RETURNING 1
    )
    SELECT count(*)::integer AS Inserted FROM inserted
$q$),

('UpdateMembershipKey', $q$
    WITH bumped AS (
        UPDATE OrleansMembershipVersionTable v
        SET Version = v.Version + 1, Timestamp = now()
        WHERE v.DeploymentId = @DeploymentId
          AND v.Version = @Version
          AND EXISTS (
              SELECT 1 FROM OrleansMembershipTable m
              WHERE m.DeploymentId = @DeploymentId AND m.Address = @Address
                AND m.Port = @Port AND m.Generation = @Generation)
        RETURNING v.DeploymentId
    ), updated AS (
        UPDATE OrleansMembershipTable m
        SET Status = @Status, SuspectTimes = @SuspectTimes, IAmAliveTime = @IAmAliveTime
        FROM bumped b
        WHERE m.DeploymentId = b.DeploymentId AND m.Address = @Address
          AND m.Port = @Port AND m.Generation = @Generation
        RETURNING 1
    )
    SELECT count(*)::integer AS Updated FROM updated
$q$),

-- A liveness heartbeat, not a membership change: it does not bump the version.
('UpdateIAmAlivetimeKey', $q$
    UPDATE OrleansMembershipTable
    SET IAmAliveTime = @IAmAliveTime
    WHERE DeploymentId = @DeploymentId AND Address = @Address
      AND Port = @Port AND Generation = @Generation
$q$),

-- The version row is returned even when the silo has no row yet (a LEFT JOIN), because the
-- caller needs the current version to insert it.
('MembershipReadRowKey', $q$
    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status,
           m.ProxyPort, m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
    FROM OrleansMembershipVersionTable v
    LEFT JOIN OrleansMembershipTable m
           ON m.DeploymentId = v.DeploymentId AND m.Address = @Address
          AND m.Port = @Port AND m.Generation = @Generation
    WHERE v.DeploymentId = @DeploymentId
$q$),

('MembershipReadAllKey', $q$
    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status,
           m.ProxyPort, m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
    FROM OrleansMembershipVersionTable v
    LEFT JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId
    WHERE v.DeploymentId = @DeploymentId
$q$),

('DeleteMembershipTableEntriesKey', $q$
    DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId;
    DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId;
$q$),

-- Clients find gateways here: active silos (@Status) that have a gateway port.
('GatewaysQueryKey', $q$
    SELECT Address, ProxyPort, Generation
    FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Status = @Status AND ProxyPort > 0
$q$),

-- Removes rows of silos that are no longer active (3) and stopped heart-beating before @IAmAliveTime.
('CleanupDefunctSiloEntriesKey', $q$
    DELETE FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND IAmAliveTime < @IAmAliveTime AND Status <> 3
$q$);
