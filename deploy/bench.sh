#!/usr/bin/env bash
# Runs a benchmark against the real system and prints its result table (Markdown).
#
#   deploy/bench.sh throughput [--jobs N] [--concurrency C] [--latency-samples M] [--max-seconds S] [--silos K] [--event-clients E] [--warm-up-seconds W]
#   deploy/bench.sh recovery [--mode kill|freeze] [--kills K] [--freeze-seconds F] [--silos K]
#   deploy/bench.sh files [--jobs N]     (N files in the generated library, default 20000)
#   deploy/bench.sh devices [--kills K] [--heartbeat-timeout T]
#   deploy/bench.sh retention [--jobs N]   (N finished jobs deleted while clients submit)
#   deploy/bench.sh validator [--jobs N]   (the state validator's run time over N finished jobs, default 100000)
#   deploy/bench.sh archive [--jobs N]     (N finished jobs exported, then imported into an empty database; default 100000)
#   deploy/bench.sh auth [--jobs N]        (what an API key adds to a request: N requests of each kind, default 20000)
#   deploy/bench.sh events [--jobs N] [--concurrency C]   (events/s and latency to C SSE clients while N jobs run; 1000, 100)
#
# PostgreSQL: the server in ORLEANSJOBS_DB, or else the checkout's private cluster (deploy/pg.sh).
# The benchmark creates a database of its own, starts silo processes and the API host on loopback
# ports, drives them over HTTP from its own process, then stops them and drops the database.
# A local PostgreSQL this script started is stopped again at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG=Release
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
[[ $# -ge 1 ]] || { sed -n '2,17p' "$0"; exit 2; }

STARTED_PG=0
if [[ -z "${ORLEANSJOBS_DB:-}" ]]; then
  if ! bash "$ROOT/deploy/pg.sh" status >/dev/null 2>&1; then STARTED_PG=1; fi
  bash "$ROOT/deploy/pg.sh" start >&2
  ORLEANSJOBS_DB=$(bash "$ROOT/deploy/pg.sh" url)
  export ORLEANSJOBS_DB
fi
stop_pg() { if [[ $STARTED_PG -eq 1 ]]; then env -u ORLEANSJOBS_DB bash "$ROOT/deploy/pg.sh" stop >&2; fi; }
trap stop_pg EXIT

echo "[bench] building ($CONFIG)" >&2
dotnet build "$ROOT/tests/OrleansJobs.Benchmarks" -c "$CONFIG" -nologo -v quiet -clp:ErrorsOnly >&2
dotnet "$ROOT/tests/OrleansJobs.Benchmarks/bin/$CONFIG/net10.0/OrleansJobs.Benchmarks.dll" "$@"
