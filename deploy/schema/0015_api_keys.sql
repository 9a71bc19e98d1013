-- API keys: who may call the API host, with which roles. Only a key's SHA-256 is stored: the key
-- itself is shown once, when it is created. Revoked keys stay (revoked_at set) for the audit.
-- Every API host holds all keys in memory and re-reads them when count or max(changed_at) moves,
-- so a revocation reaches every host within its refresh interval (1 s by default).
CREATE TABLE api_keys (
    key_id       text        NOT NULL PRIMARY KEY,
    name         text        NOT NULL,
    key_sha256   bytea       NOT NULL UNIQUE CHECK (octet_length(key_sha256) = 32),
    roles        text[]      NOT NULL CHECK (cardinality(roles) > 0),
    job_types    text[]      NOT NULL DEFAULT '{}',
    devices      text[]      NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL,
    created_by   text        NOT NULL,
    expires_at   timestamptz NULL,
    revoked_at   timestamptz NULL,
    revoked_by   text        NULL,
    changed_at   timestamptz NOT NULL
);
