#!/usr/bin/env bash
# Starts the whole OrleansJobs system on this machine and keeps it running until Ctrl+C.
#
#   deploy/up.sh [--silos N] [--api-port PORT] [--devices N] [--no-build]
#
# 1. PostgreSQL: the one in ORLEANSJOBS_DB, or else a private local cluster (deploy/pg.sh).
# 2. Builds the solution (Release) and applies the database schema.
# 3. Starts N silo processes (silo ports 11111.., gateway ports 30000.., metrics ports 9464..) and the API host.
# 4. Waits until /health/ready reports N active silos, then prints the URLs and the admin API key
#    (generated on first start into .data/admin.key; the API host is given only its SHA-256).
# 5. With --devices N (0-9), starts N simulated plotter agents, devices plotter-1..N.
# Ctrl+C (or SIGTERM) stops the plotter agents (they give their jobs back), the API host and
# the silos gracefully, and the local PostgreSQL if this run started it. Logs go to .data/logs/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SILOS=1
DEVICES=0
API_PORT="${ORLEANSJOBS_API_PORT:-8080}"
BUILD=1
CONFIG=Release
SILO_PORT_BASE="${ORLEANSJOBS_SILO_PORT:-11111}"
GATEWAY_PORT_BASE="${ORLEANSJOBS_GATEWAY_PORT:-30000}"
METRICS_PORT_BASE="${ORLEANSJOBS_METRICS_PORT:-9464}"
READY_TIMEOUT="${ORLEANSJOBS_READY_TIMEOUT:-120}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --silos) SILOS="$2"; shift 2 ;;
    --api-port) API_PORT="$2"; shift 2 ;;
    --devices) DEVICES="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$SILOS" =~ ^[1-9][0-9]?$ ]] || { echo "--silos takes a number from 1 to 99" >&2; exit 2; }
[[ "$DEVICES" =~ ^[0-9]$ ]] || { echo "--devices takes a number from 0 to 9" >&2; exit 2; }

say() { echo "[up] $*"; }
die() { echo "[up] error: $*" >&2; exit 1; }

DATA="$ROOT/.data"
LOGS="$DATA/logs"
RUN="$DATA/run"
mkdir -p "$LOGS" "$RUN"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

command -v dotnet >/dev/null 2>&1 || die "the .NET SDK is required (https://dot.net); dotnet is not on PATH"
if ! command -v curl >/dev/null 2>&1; then
  say "installing curl"
  sudo_cmd=""
  [[ $(id -u) -eq 0 ]] || sudo_cmd=sudo
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
fi

# Processes of an earlier run that was killed (not stopped) would hold the ports: stop them.
for pidfile in "$RUN"/*.pid; do
  [[ -e "$pidfile" ]] || continue
  pid=$(cat "$pidfile")
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "OrleansJobs\."; then
    say "stopping leftover process $pid from an earlier run ($(basename "$pidfile" .pid))"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
done

# --- PostgreSQL ---------------------------------------------------------------------------
STARTED_PG=0
if [[ -z "${ORLEANSJOBS_DB:-}" ]]; then
  if ! bash "$ROOT/deploy/pg.sh" status >/dev/null 2>&1; then STARTED_PG=1; fi
  bash "$ROOT/deploy/pg.sh" start
  ORLEANSJOBS_DB=$(bash "$ROOT/deploy/pg.sh" url)
else
  say "using the database in ORLEANSJOBS_DB"
fi
export ConnectionStrings__OrleansJobs="$ORLEANSJOBS_DB"

PIDS=()
AGENT_PIDS=()
# SIGTERM to the given processes, up to 30 s for them to exit, then SIGKILL.
stop_pids() {
  kill -TERM "$@" 2>/dev/null || true
  for _ in $(seq 1 150); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 0.2
  done
  kill -KILL "$@" 2>/dev/null || true
}
cleanup() {
  trap - INT TERM EXIT
  # The agents first: each gives its job back through the API, which must still be up.
  if [[ ${#AGENT_PIDS[@]} -gt 0 ]]; then
    say "stopping plotter agents"
    stop_pids "${AGENT_PIDS[@]}"
  fi
  if [[ ${#PIDS[@]} -gt 0 ]]; then
    say "stopping API host and silos"
    stop_pids "${PIDS[@]}"
  fi
  rm -f "$RUN"/*.pid
  if [[ $STARTED_PG -eq 1 ]]; then bash "$ROOT/deploy/pg.sh" stop; fi
  say "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Build and schema -------------------------------------------------------------------------
if [[ $BUILD -eq 1 ]]; then
  say "building ($CONFIG)"
  dotnet build "$ROOT/OrleansJobs.sln" -c "$CONFIG" -nologo -v quiet -clp:ErrorsOnly >"$LOGS/build.log" 2>&1 \
    || { tail -n 30 "$LOGS/build.log" >&2; die "build failed (full log: $LOGS/build.log)"; }
fi
SILO_DIR="$ROOT/src/Silo/bin/$CONFIG/net10.0"
API_DIR="$ROOT/src/ApiHost/bin/$CONFIG/net10.0"
PLOTTER_DLL="$ROOT/src/PlotterAgent/bin/$CONFIG/net10.0/OrleansJobs.PlotterAgent.dll"
[[ -f "$SILO_DIR/OrleansJobs.Silo.dll" && -f "$API_DIR/OrleansJobs.ApiHost.dll" ]] || die "not built: run without --no-build"
[[ $DEVICES -eq 0 || -f "$PLOTTER_DLL" ]] || die "the plotter agent is not built: run without --no-build"

say "applying the database schema"
(cd "$SILO_DIR" && dotnet OrleansJobs.Silo.dll migrate) | sed 's/^/[up] /'

# --- Libraries -------------------------------------------------------------------------------
# Library roots may lie under .data/libraries, and under the folders of ORLEANSJOBS_LIBRARY_ROOTS
# (colon-separated) when it is set.
mkdir -p "$DATA/libraries"
IFS=: read -r -a LIBRARY_ROOTS <<<"$DATA/libraries${ORLEANSJOBS_LIBRARY_ROOTS:+:$ORLEANSJOBS_LIBRARY_ROOTS}"
for i in "${!LIBRARY_ROOTS[@]}"; do export "Libraries__AllowedRoots__$i=${LIBRARY_ROOTS[$i]}"; done

# --- Processes ---------------------------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for ((i = 0; i < SILOS; i++)); do
  for port in $((SILO_PORT_BASE + i)) $((GATEWAY_PORT_BASE + i)) $((METRICS_PORT_BASE + i)); do
    port_busy "$port" && die "port $port is in use (set ORLEANSJOBS_SILO_PORT / ORLEANSJOBS_GATEWAY_PORT / ORLEANSJOBS_METRICS_PORT)"
  done
done
port_busy "$API_PORT" && die "port $API_PORT is in use (use --api-port)"

# --- The local admin API key ---------------------------------------------------------------------
# Made once, kept in .data/admin.key (readable by this user only); the API host gets its hash.
KEY_FILE="$DATA/admin.key"
if [[ ! -s "$KEY_FILE" ]]; then
  (umask 077 && printf 'ojk_%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$KEY_FILE")
  say "generated the local admin API key in .data/admin.key"
fi
ADMIN_KEY=$(tr -d '\n' <"$KEY_FILE")
ADMIN_KEY_SHA256=$(printf '%s' "$ADMIN_KEY" | sha256sum | cut -d' ' -f1)

for ((i = 0; i < SILOS; i++)); do
  (cd "$SILO_DIR" && exec env Silo__SiloPort=$((SILO_PORT_BASE + i)) Silo__GatewayPort=$((GATEWAY_PORT_BASE + i)) \
    Metrics__Port=$((METRICS_PORT_BASE + i)) Silo__ApplySchemaOnStart=false dotnet OrleansJobs.Silo.dll >"$LOGS/silo-$i.log" 2>&1) &
  PIDS+=($!)
  echo $! >"$RUN/silo-$i.pid"
  say "silo $i: 127.0.0.1:$((SILO_PORT_BASE + i)), gateway $((GATEWAY_PORT_BASE + i)), metrics $((METRICS_PORT_BASE + i)) (log: .data/logs/silo-$i.log)"
done
(cd "$API_DIR" && exec env Urls="http://127.0.0.1:$API_PORT" Auth__Keys__0__Name=local-admin Auth__Keys__0__Sha256="$ADMIN_KEY_SHA256" \
  Auth__Keys__0__Roles__0=admin dotnet OrleansJobs.ApiHost.dll >"$LOGS/api.log" 2>&1) &
PIDS+=($!)
echo $! >"$RUN/api.pid"
say "API host: http://127.0.0.1:$API_PORT (log: .data/logs/api.log)"

# --- Readiness -----------------------------------------------------------------------------------
say "waiting for /health/ready to report $SILOS active silo(s)"
deadline=$((SECONDS + READY_TIMEOUT))
while true; do
  body=$(curl -s -m 5 -H "Authorization: Bearer $ADMIN_KEY" "http://127.0.0.1:$API_PORT/health/ready" || true)
  if [[ "$body" == *'"status":"Healthy"'* && "$body" == *"\"activeSilos\":$SILOS,"* ]]; then break; fi
  for pid in "${PIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      for log in "$LOGS"/silo-*.log "$LOGS/api.log"; do echo "--- $log"; tail -n 15 "$log"; done >&2
      die "a process exited during start-up"
    fi
  done
  if [[ $SECONDS -ge $deadline ]]; then
    echo "last readiness answer: $body" >&2
    die "not ready after $READY_TIMEOUT s (logs in .data/logs)"
  fi
  sleep 0.5
done

cat <<EOF
[up] ready: $SILOS silo(s) active, $SECONDS s after start
      API        http://127.0.0.1:$API_PORT/
      OpenAPI    http://127.0.0.1:$API_PORT/openapi/v1.json
      Dashboard  http://127.0.0.1:$API_PORT/dashboard/ (the browser asks: any user name, the admin key as password)
      Health     http://127.0.0.1:$API_PORT/health/ready
      Metrics    http://127.0.0.1:$API_PORT/metrics (API host)$(for ((i = 0; i < SILOS; i++)); do printf '\n                 http://127.0.0.1:%d/metrics (silo %d)' $((METRICS_PORT_BASE + i)) "$i"; done)
      Libraries  roots may lie under ${LIBRARY_ROOTS[*]}
      API key    $ADMIN_KEY (admin; in .data/admin.key)
                 KEY=\$(cat .data/admin.key); curl -H "Authorization: Bearer \$KEY" http://127.0.0.1:$API_PORT/api/jobs
EOF

# --- Plotter agents ------------------------------------------------------------------------------
# Each is a simulated pen plotter with its own device id, stroke log and control file (docs/plotter-agent.md).
if [[ $DEVICES -gt 0 ]]; then
  mkdir -p "$DATA/plotters"
  for ((i = 1; i <= DEVICES; i++)); do
    (cd "$ROOT" && PLOTTER_API_KEY="$ADMIN_KEY" exec dotnet "$PLOTTER_DLL" --api "http://127.0.0.1:$API_PORT" --device "plotter-$i" --name "Simulated plotter $i" \
      --strokes "$DATA/plotters/plotter-$i.strokes.jsonl" --control "$DATA/plotters/plotter-$i.control" >"$LOGS/plotter-$i.log" 2>&1) &
    AGENT_PIDS+=($!)
    echo $! >"$RUN/plotter-$i.pid"
  done
  cat <<EOF
[up] plotter agents: $(for ((i = 1; i <= DEVICES; i++)); do printf 'plotter-%d ' "$i"; done)(logs: .data/logs/plotter-N.log)
      Strokes    .data/plotters/plotter-N.strokes.jsonl; unplug one: echo disconnect > .data/plotters/plotter-N.control
      Plot on plotter-1:
        curl -s -X POST http://127.0.0.1:$API_PORT/api/jobs -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' \\
          -d '{"type": "plot", "device": "plotter-1", "parameters": {"layers": 3, "strokesPerLayer": 100, "strokeMs": 20}}'
      Plot on the first free plotter:
        curl -s -X POST http://127.0.0.1:$API_PORT/api/jobs -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' \\
          -d '{"type": "plot", "deviceKind": "plotter"}'
EOF
fi
say "press Ctrl+C to stop"

# Stay up until Ctrl+C; report processes that die meanwhile.
declare -A reported=()
while true; do
  for pid in "${PIDS[@]}" "${AGENT_PIDS[@]}"; do
    if [[ -z "${reported[$pid]:-}" ]] && ! kill -0 "$pid" 2>/dev/null; then
      reported[$pid]=1
      say "warning: process $pid exited; see .data/logs"
    fi
  done
  sleep 1 &
  wait $! || true
done
