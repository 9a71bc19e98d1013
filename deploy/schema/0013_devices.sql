-- Devices: one row per device, written by its grain on registration, on every change of its
-- definition and on every change of its health (not on every heartbeat: the grain holds those).
-- The grain state is the truth; this is what listings read and filter by kind and health.
CREATE TABLE devices (
    device_id          text        NOT NULL PRIMARY KEY,
    kind               text        NOT NULL,
    name               text        NOT NULL,
    settings           jsonb       NOT NULL,
    heartbeat_timeout  integer     NOT NULL CHECK (heartbeat_timeout > 0),
    health             text        NOT NULL CHECK (health IN ('Offline', 'Online', 'Busy', 'Faulted')),
    agent              text        NULL,
    health_since       timestamptz NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    version            bigint      NOT NULL
);

CREATE INDEX ix_devices_kind_health ON devices (kind, health);

-- Why a device stopped the job (heartbeat_lost, or the fault's text) while it waits, paused, for
-- an operator or for its device to come back: GET /api/jobs?interrupted=true.
ALTER TABLE job_index ADD COLUMN interruption text NULL;
CREATE INDEX ix_job_index_interrupted ON job_index (created_at DESC, job_id DESC) WHERE interruption IS NOT NULL;

-- The kind of device a job asked for without naming one: the pool of that kind reads the jobs
-- waiting for a device from here when its activation was lost.
ALTER TABLE job_index ADD COLUMN device_kind text NULL;
CREATE INDEX ix_job_index_device_kind ON job_index (device_kind, priority DESC, created_at)
    WHERE device_kind IS NOT NULL AND device_id IS NULL AND status = 'Queued';
