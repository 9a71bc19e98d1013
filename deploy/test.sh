#!/usr/bin/env bash
# Runs the whole OrleansJobs test suite against a real PostgreSQL.
#
#   deploy/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Schema]
#
# Installs what the tests need (the PostgreSQL server via deploy/pg.sh when ORLEANSJOBS_DB is
# not set; Chromium for the dashboard's browser test; promtool, unpacked under .data/tools, for
# the alert rules), builds in Release, and runs every test. The tests create and drop their own
# databases on that server (the role needs CREATEDB) and start real silo and API host processes
# on loopback ports. A local PostgreSQL this script started is stopped again at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG=Release
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

say() { echo "[test] $*"; }
command -v dotnet >/dev/null 2>&1 || { echo "[test] error: the .NET SDK is required; dotnet is not on PATH" >&2; exit 1; }
# The HTTP contract tests install pinned Node tools (tests/openapi-tools) with npm ci.
command -v npm >/dev/null 2>&1 || { echo "[test] error: Node.js 20+ and npm are required; npm is not on PATH" >&2; exit 1; }

STARTED_PG=0
if [[ -z "${ORLEANSJOBS_DB:-}" ]]; then
  if ! bash "$ROOT/deploy/pg.sh" status >/dev/null 2>&1; then STARTED_PG=1; fi
  bash "$ROOT/deploy/pg.sh" start
  # The tests read the server from ORLEANSJOBS_DB; pg.sh start made sure it answers.
  ORLEANSJOBS_DB=$(bash "$ROOT/deploy/pg.sh" url)
  export ORLEANSJOBS_DB
fi
# ORLEANSJOBS_DB now names our own server; unset it so pg.sh stops it instead of treating it as external.
stop_pg() { if [[ $STARTED_PG -eq 1 ]]; then env -u ORLEANSJOBS_DB bash "$ROOT/deploy/pg.sh" stop; fi; }
trap stop_pg EXIT

# The alert rules' tests run Prometheus' promtool: taken from the Debian 'prometheus' package,
# unpacked under .data/tools (nothing is installed, no service is started).
PROMTOOL_DIR="$ROOT/.data/tools/prometheus"
if [[ -n "${ORLEANSJOBS_PROMTOOL:-}" && -x "${ORLEANSJOBS_PROMTOOL:-}" ]]; then
  :
elif command -v promtool >/dev/null 2>&1; then
  ORLEANSJOBS_PROMTOOL=$(command -v promtool)
elif [[ -x "$PROMTOOL_DIR/usr/bin/promtool" ]]; then
  ORLEANSJOBS_PROMTOOL="$PROMTOOL_DIR/usr/bin/promtool"
else
  say "fetching promtool (the Debian 'prometheus' package, unpacked under .data/tools)"
  sudo_cmd=""
  if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo"; fi
  download=$(mktemp -d)
  if ! (cd "$download" && apt-get download -qq prometheus >/dev/null 2>&1); then
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    (cd "$download" && apt-get download -qq prometheus)
  fi
  mkdir -p "$PROMTOOL_DIR"
  dpkg-deb -x "$download"/prometheus_*.deb "$PROMTOOL_DIR"
  rm -rf "$download"
  ORLEANSJOBS_PROMTOOL="$PROMTOOL_DIR/usr/bin/promtool"
fi
export ORLEANSJOBS_PROMTOOL

# The dashboard's browser test drives Debian's Chromium (the 'chromium' package).
if [[ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]]; then
  say "Chromium not found; installing the Debian 'chromium' package"
  sudo_cmd=""
  if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo"; fi
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

say "building ($CONFIG)"
dotnet build "$ROOT/OrleansJobs.sln" -c "$CONFIG" -nologo -clp:ErrorsOnly

say "running tests"
# The tests start dozens of short-lived silo and API host processes: without tiered PGO's
# instrumentation they reach their work sooner (about 15% less time for the process tests).
# Production processes and the benchmarks keep the runtime's default.
export DOTNET_TieredPGO=0
# The console log is also kept so that the failures can be repeated at the end, where a log
# viewer that shows only the tail of a long run still sees them.
LOG=$(mktemp -t orleansjobs-test.XXXXXX.log)
set +e
# --blame-hang-timeout: a hung test fails with a dump after 10 min instead of stalling the run.
dotnet test "$ROOT/OrleansJobs.sln" -c "$CONFIG" --no-build -nologo \
  --logger "console;verbosity=normal" --blame-hang-timeout 10m "$@" 2>&1 | tee "$LOG"
STATUS=${PIPESTATUS[0]}
set -e
if [[ $STATUS -ne 0 ]]; then
  say "failed tests (each with the first 40 lines of its message):"
  # A block starts at a test's "Failed" line and ends at the next test's result line.
  awk '/^  Failed /{on=1; n=0} /^  (Passed|Skipped) /{on=0} on && n++ < 40' "$LOG" | head -n 400
fi
rm -f "$LOG"
exit "$STATUS"
