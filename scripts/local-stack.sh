#!/usr/bin/env bash
# The deployed stack, on this machine: both release binaries with the environment of their
# containers (the [env] of fly/api/fly.toml and fly/mcp/fly.toml, nothing inherited from your
# shell) and the data directory layout of the API's volume, then the path Claude takes:
# MCP `tools/call simulate` -> mcp-server -> mechafil-api -> an answer with dated series, over
# streamable HTTP (Claude.ai) and over stdio (Claude Desktop). Also: the admin update script
# of the daily workflow, graceful shutdown on SIGTERM, and a restart on the same volume.
#
#   scripts/local-stack.sh                 # from a clean clone; CI runs it (.ci/run)
#   KEEP_STACK=1 scripts/local-stack.sh    # keep the temporary directory (logs, data)
#   LOCAL_STACK_PROFILE=debug scripts/...  # debug binaries instead of release (faster build)
#
# Only loopback is used: the servers bind 127.0.0.1 instead of the containers' 0.0.0.0, and
# the "Spacescope" of the update check is a local stand-in. Needs cargo, python3 (3.11+).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# shellcheck source=scripts/processes.sh
source scripts/processes.sh

passed=0
step() { printf '\n== %s\n' "$*"; }
ok() { passed=$((passed + 1)); printf '  ok: %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python3 >= 3.11 is needed (tomllib)"
# The interpreter itself, not a version-manager shim: its start-up counts in the timings below.
py=$(python3 -c 'import sys; print(sys.executable)')
client() { "$py" "$repo/scripts/stack_client.py" "$@"; }

profile=${LOCAL_STACK_PROFILE:-release}
case "$profile" in
    release) build_flags=(--release) ;;
    debug) build_flags=() ;;
    *) die "LOCAL_STACK_PROFILE must be release or debug, not $profile" ;;
esac
step "build: cargo build ${build_flags[*]} --locked -p mechafil-api -p mcp-server"
cargo build "${build_flags[@]}" --locked -p mechafil-api -p mcp-server
target_dir=$(cargo_target_dir)
bin="$target_dir/$profile"
ok "built $bin/mechafil-api and $bin/mcp-server"

root=$(mktemp -d "${TMPDIR:-/tmp}/mechafil-stack.XXXXXX")
mkdir -p "$root/data" "$root/data-refresh" "$root/logs"
stop_processes_on_exit "$root" KEEP_STACK

# The containers' environment: the [env] of each fly.toml. Then what differs on this machine,
# printed so nothing is hidden: local ports, loopback, and the volume as a directory.
mapfile -t api_fly_env < <(client fly-env fly/api/fly.toml)
mapfile -t mcp_fly_env < <(client fly-env fly/mcp/fly.toml)
[ "${#api_fly_env[@]}" -gt 0 ] && [ "${#mcp_fly_env[@]}" -gt 0 ] || die "cannot read the [env] of the fly.toml files"
api_port=$(client free-port)
mcp_port=$(client free-port)
while [ "$mcp_port" = "$api_port" ]; do mcp_port=$(client free-port); done
api_url="http://127.0.0.1:$api_port"
mcp_url="http://127.0.0.1:$mcp_port/mcp"
api_local=(HOST=127.0.0.1 PORT="$api_port" MECHAFIL_DATA_DIR="$root/data" ADMIN_TOKEN=local-admin-token)
mcp_local=(MCP_HOST=127.0.0.1 PORT="$mcp_port" MECHAFIL_SERVER_URL="$api_url")
base_env=(PATH="$PATH")
[ -z "${RUST_LOG:-}" ] || base_env+=(RUST_LOG="$RUST_LOG") # the images set none: the binaries' defaults

step "layout (the container's /data is $root/data)"
printf '  api env: %s\n' "${api_fly_env[*]}"
printf '    here:  %s (ADMIN_TOKEN stands in for the Fly secret; no Spacescope token: demo data)\n' "${api_local[*]}"
printf '  mcp env: %s\n' "${mcp_fly_env[*]}"
printf '    here:  %s\n' "${mcp_local[*]}"

# Milliseconds from $1 (date +%s%N) until $2 answers 200, polled with curl every 5 ms (a
# Python poller's own start-up would dominate the figure); plain waiting without curl.
ms_until_healthy() {
    if command -v curl >/dev/null; then
        for _ in $(seq 6000); do
            if curl -sf -o /dev/null --max-time 1 "$2"; then
                echo "$(( ($(date +%s%N) - $1) / 1000000 )) ms"
                return
            fi
            sleep 0.005
        done
    fi
    client wait-health "$2" >/dev/null
    echo "$(( ($(date +%s%N) - $1) / 1000000 )) ms (python poller)"
}

start_api() { # name data_dir extra-env...
    local name=$1 data=$2
    shift 2
    env -i "${base_env[@]}" "${api_fly_env[@]}" "${api_local[@]}" MECHAFIL_DATA_DIR="$data" "$@" \
        "$bin/mechafil-api" >"$root/logs/$name.log" 2>&1 &
    pids[$name]=$!
}

step "start mechafil-api (serve) and mcp-server (MCP_TRANSPORT=http)"
started=$(date +%s%N)
start_api api "$root/data"
took=$(ms_until_healthy "$started" "$api_url/health")
client wait-health "$api_url/health"
ok "mechafil-api answered /health $took after the process started (empty store: demo snapshot)"
env -i "${base_env[@]}" "${mcp_fly_env[@]}" "${mcp_local[@]}" "$bin/mcp-server" >"$root/logs/mcp.log" 2>&1 &
pids[mcp]=$!
client wait-health "http://127.0.0.1:$mcp_port/health"
ok "mcp-server answered /health"
[ -f "$root/data/mechafil.redb" ] || die "no store at $root/data/mechafil.redb"
ok "the store is on the volume: $root/data/mechafil.redb"

step "Claude.ai's path: streamable HTTP at $mcp_url"
client mcp-http --mcp-url "$mcp_url" --api-url "$api_url"
ok "MCP over HTTP -> API -> dated series"

step "Claude Desktop's path: $bin/mcp-server over stdio"
client mcp-stdio --binary "$bin/mcp-server" --api-url "$api_url"
ok "MCP over stdio -> API -> dated series"

step "the daily workflow's script (scripts/update_cache.py) against this API"
expect_update_failure() { # description expected-text token url
    local out
    if out=$(ADMIN_TOKEN=$3 GITHUB_ACTIONS='' "$py" "$repo/scripts/update_cache.py" --url "$4" --poll-secs 1 --timeout-secs 60 2>&1); then
        printf '%s\n' "$out"
        die "update_cache.py succeeded, expected: $1"
    fi
    printf '%s\n' "$out" | sed 's/^/    /'
    grep -q -- "$2" <<<"$out" || die "update_cache.py output lacks \"$2\""
    ok "$1"
}
expect_update_failure "a wrong token fails the job (401)" "HTTP 401" wrong-token "$api_url"
expect_update_failure "no Spacescope token on the API fails the job (503)" "HTTP 503" local-admin-token "$api_url"

# A second API whose refresh-on-wake is running when the script's POST arrives (it boots on the
# demo data, which always counts as stale), against a Spacescope stand-in that answers slowly
# and then fails: the script gets 409, follows the running update through /health, and
# reports its failure.
fake_port=$(client free-port)
"$py" "$repo/scripts/stack_client.py" fake-spacescope --port "$fake_port" --delay-secs 6 &
pids[fake-spacescope]=$!
refresh_port=$(client free-port)
start_api api-refresh "$root/data-refresh" PORT="$refresh_port" \
    SPACESCOPE_TOKEN=fake-token SPACESCOPE_BASE_URL="http://127.0.0.1:$fake_port" \
    SPACESCOPE_TIMEOUT_MS=4000 SPACESCOPE_MAX_RETRIES=0
client wait-health "http://127.0.0.1:$refresh_port/health"
expect_update_failure "a POST during the refresh-on-wake gets 409, then the running update's outcome" \
    "the update that was running failed" local-admin-token "http://127.0.0.1:$refresh_port"
grep -q "the served snapshot is stale: refreshing in the background" "$root/logs/api-refresh.log" \
    || die "api-refresh did not start its refresh-on-wake"
ok "refresh-on-wake started at boot (log of api-refresh)"
stop_process api-refresh
stop_process fake-spacescope

step "graceful shutdown on SIGTERM (Fly's kill_signal) and a restart on the same volume"
for name in mcp api; do
    pid=${pids[$name]}
    kill -s TERM "$pid"
    code=0
    wait "$pid" || code=$?
    unset "pids[$name]"
    [ "$code" -eq 0 ] || die "$name exited with $code after SIGTERM"
    ok "$name exited 0 after SIGTERM"
done
grep -q "SIGTERM: shutting down" "$root/logs/api.log" || die "api.log has no 'SIGTERM: shutting down'"

# Maintenance on the volume while the service is down (docs/DEPLOY.md): the data CLI with the
# container's environment loads a real snapshot, when the shared fixtures are beside the clone.
fixture="${MECHAFIL_FIXTURES:-$repo/../shared/fixtures}/reference-snapshot-2025-09-09.json"
# Where only the committed excerpt of the fixtures exists (GitHub's CI), its copy of that file.
[ -f "$fixture" ] || fixture="$repo/mechafil-core/tests/fixtures/reference-snapshot-2025-09-09.json"
if [ -f "$fixture" ]; then
    env -i "${base_env[@]}" "${api_fly_env[@]}" "${api_local[@]}" \
        "$bin/mechafil-api" import "$fixture" --start-date 2022-10-10 | sed 's/^/    /'
    ok "mechafil-api import on the stopped volume (a real snapshot, 2025-09-09)"
else
    echo "  (no $fixture: the restart below serves the demo again)"
fi
started=$(date +%s%N)
start_api api "$root/data"
took=$(ms_until_healthy "$started" "$api_url/health")
client wait-health "$api_url/health"
ok "mechafil-api restarted on the same volume: /health $took after the process started"
if out=$(env -i "${base_env[@]}" "${api_fly_env[@]}" "${api_local[@]}" "$bin/mechafil-api" snapshots 2>&1); then
    die "mechafil-api snapshots ran while serve held the store: $out"
fi
grep -q "open in another process" <<<"$out" || die "unexpected error from the data CLI: $out"
ok "the data CLI refuses the store while serve holds it (redb lock): use the admin endpoint or maintenance"
stop_process api

printf '\nlocal-stack: %d passed, 0 failed\n' "$passed"
