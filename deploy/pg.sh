#!/usr/bin/env bash
# Private local PostgreSQL for OrleansJobs.
#
#   deploy/pg.sh start    provision (first time) and start the local cluster; idempotent
#   deploy/pg.sh stop     stop it (data is kept)
#   deploy/pg.sh status   say whether it runs
#   deploy/pg.sh url      print the connection string (starts nothing)
#   deploy/pg.sh destroy  stop it and delete its data
#
# When ORLEANSJOBS_DB holds a connection string, that server is used and nothing is
# provisioned: `start` only checks that it answers, `url` prints it.
#
# The cluster lives under .data/postgres in the checkout, listens on 127.0.0.1 only
# (port ORLEANSJOBS_PG_PORT, default 55432, no unix socket), and uses a generated
# password kept in .data/pg-password. Running as root is handled: initdb refuses root,
# so the server runs as the `postgres` system user.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA_ROOT="${ORLEANSJOBS_DATA_DIR:-$ROOT/.data}"
PGDATA_DIR="$DATA_ROOT/postgres"
PG_LOG="$DATA_ROOT/postgres.log"
PW_FILE="$DATA_ROOT/pg-password"
PORT="${ORLEANSJOBS_PG_PORT:-55432}"
DB_NAME="${ORLEANSJOBS_PG_DATABASE:-orleansjobs}"
DB_USER=orleansjobs

say() { echo "[pg] $*" >&2; }
die() { echo "[pg] error: $*" >&2; exit 1; }

find_bin_dir() {
  local d
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return 0
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$d/pg_ctl" && -x "$d/initdb" ]]; then echo "$d"; return 0; fi
  done
  return 1
}

install_postgres() {
  say "PostgreSQL server binaries not found; installing the Debian 'postgresql' package"
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to install postgresql (apt-get install postgresql)"
    sudo="sudo"
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  # The package may try to start its own cluster on 5432; ours is separate and may coexist.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >&2
}

# As root, every server command runs as the postgres system user.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    # From /, so the server never inherits a working directory it may not enter.
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

pg_ready() {
  "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2 >/dev/null 2>&1
}

local_url() {
  [[ -f "$PW_FILE" ]] || die "no local cluster provisioned yet (run deploy/pg.sh start)"
  echo "Host=127.0.0.1;Port=$PORT;Database=$DB_NAME;Username=$DB_USER;Password=$(cat "$PW_FILE")"
}

psql_local() {
  PGPASSWORD=$(cat "$PW_FILE") "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$DB_USER" "$@"
}

PREPARED=0
prepare_data_root() {
  [[ $PREPARED -eq 0 ]] || return 0
  PREPARED=1
  mkdir -p "$DATA_ROOT"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user (from the postgresql package)"
    # The postgres user must be able to reach the data folder. When the checkout sits
    # behind a private directory (e.g. /root), keep the cluster in /var/lib instead and
    # point .data/postgres at it.
    if ! runuser -u postgres -- test -x "$DATA_ROOT"; then
      local alt
      alt="/var/lib/orleansjobs/$(echo -n "$ROOT" | sha256sum | cut -c1-12)"
      [[ -L "$PGDATA_DIR" ]] || say "$DATA_ROOT is not reachable by the postgres user; keeping the cluster in $alt"
      mkdir -p "$alt"
      chown postgres:postgres "$alt"
      [[ -L "$PGDATA_DIR" || ! -e "$PGDATA_DIR" ]] || die "$PGDATA_DIR exists and is not a link"
      ln -sfn "$alt/postgres" "$PGDATA_DIR"
      PGDATA_DIR="$alt/postgres"
      PG_LOG="$alt/postgres.log"
    fi
  fi
}

init_cluster() {
  say "initializing a private cluster in $PGDATA_DIR (port $PORT, 127.0.0.1 only)"
  mkdir -p "$PGDATA_DIR"
  chmod 700 "$PGDATA_DIR"
  local pwtmp
  pwtmp=$(mktemp)
  head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24 >"$PW_FILE.new"
  cp "$PW_FILE.new" "$pwtmp"
  if [[ $(id -u) -eq 0 ]]; then
    chown -R postgres:postgres "$PGDATA_DIR" "$pwtmp"
    touch "$PG_LOG" && chown postgres:postgres "$PG_LOG"
  fi
  as_owner "$BIN/initdb" -D "$PGDATA_DIR" -U "$DB_USER" --pwfile="$pwtmp" \
    --auth-host=scram-sha-256 --auth-local=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwtmp"
  # Settings live in the cluster, so `pg_ctl start` needs no options.
  as_owner tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null <<CONF

# --- OrleansJobs local cluster ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = ''
max_connections = 400
shared_buffers = 256MB
log_min_messages = warning
log_line_prefix = '%m [%p] '
CONF
  mv "$PW_FILE.new" "$PW_FILE"
  chmod 600 "$PW_FILE"
}

cmd_start() {
  if [[ -n "${ORLEANSJOBS_DB:-}" ]]; then
    say "ORLEANSJOBS_DB is set: using that server, provisioning nothing"
    return 0
  fi
  BIN=$(find_bin_dir) || { install_postgres; BIN=$(find_bin_dir) || die "postgresql installed but pg_ctl not found"; }
  prepare_data_root
  exec 9>"$DATA_ROOT/pg.lock"
  flock 9   # concurrent callers (several test runs) provision once
  if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
    rm -rf "${PGDATA_DIR:?}"/* 2>/dev/null || true
    init_cluster
  elif [[ ! -f "$PW_FILE" ]]; then
    die "$PGDATA_DIR exists but $PW_FILE is missing; run deploy/pg.sh destroy to start over"
  fi
  if as_owner "$BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    # Line 4 of postmaster.pid is the port the running server listens on.
    local running_port
    running_port=$(sed -n 4p "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)
    if [[ -n "$running_port" && "$running_port" != "$PORT" ]]; then
      die "the private cluster already runs on port $running_port, not $PORT; stop it (deploy/pg.sh stop with that ORLEANSJOBS_PG_PORT) or use that port"
    fi
    say "already running on 127.0.0.1:$PORT"
  else
    if pg_ready; then
      die "port $PORT already has another server; set ORLEANSJOBS_PG_PORT to a free port"
    fi
    say "starting PostgreSQL on 127.0.0.1:$PORT (log: $PG_LOG)"
    # 9>&-: the server must not inherit the provisioning lock, or it would hold it forever.
    # -p: the port asked for now, whatever port the cluster was created with.
    as_owner "$BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -o "-p $PORT" -w -t 60 start >/dev/null 9>&- \
      || { tail -n 20 "$PG_LOG" >&2 || true; die "PostgreSQL did not start"; }
  fi
  if ! psql_local -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
    say "creating database $DB_NAME"
    psql_local -d postgres -c "CREATE DATABASE \"$DB_NAME\""
  fi
  say "ready: 127.0.0.1:$PORT database $DB_NAME"
}

cmd_stop() {
  [[ -z "${ORLEANSJOBS_DB:-}" ]] || { say "ORLEANSJOBS_DB is set: not stopping an external server"; return 0; }
  BIN=$(find_bin_dir) || { say "no PostgreSQL binaries; nothing to stop"; return 0; }
  prepare_data_root
  if [[ -f "$PGDATA_DIR/PG_VERSION" ]] && as_owner "$BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    say "stopping PostgreSQL on 127.0.0.1:$PORT"
    as_owner "$BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null
  else
    say "not running"
  fi
}

cmd_status() {
  if [[ -n "${ORLEANSJOBS_DB:-}" ]]; then echo "external (ORLEANSJOBS_DB)"; return 0; fi
  BIN=$(find_bin_dir) || { echo "not installed"; return 3; }
  prepare_data_root
  if [[ -f "$PGDATA_DIR/PG_VERSION" ]] && as_owner "$BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    echo "running on 127.0.0.1:$PORT"
  else
    echo "stopped"; return 3
  fi
}

cmd_url() {
  if [[ -n "${ORLEANSJOBS_DB:-}" ]]; then echo "$ORLEANSJOBS_DB"; return 0; fi
  local_url
}

cmd_destroy() {
  cmd_stop
  prepare_data_root
  say "deleting $PGDATA_DIR"
  rm -rf "${PGDATA_DIR:?}" "$DATA_ROOT/postgres" "$PW_FILE"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
  destroy) cmd_destroy ;;
  *) echo "usage: deploy/pg.sh start|stop|status|url|destroy" >&2; exit 2 ;;
esac
