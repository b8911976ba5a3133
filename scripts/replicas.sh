#!/usr/bin/env bash
# Two API replicas behind a real load balancer, on this machine: horizontal scale without
# shared state (docs/DEPLOY.md, "Several machines"). Two `mechafil-api serve` processes, each
# with its own data directory (its own volume on Fly), behind HAProxy from Debian's packages
# (installed when missing), which stands in for Fly's proxy. Then:
#
#   kill      load through the balancer (8 clients, 10 s of POST /simulate) while one replica is
#             SIGKILLed and restarted on the same data directory. HAProxy replays on the other
#             replica the requests the dead one refused or closed without an answer; what it
#             does not hide is a request whose transfer the replica aborted as it died (HAProxy
#             counts those: eresp, srv_abrt). So a request may fail only that way: no answer,
#             ended within 0.5 s of the kill, at most one per client; any other failure fails
#             the check. Then the other replica gets SIGTERM instead (a deploy or restart: it
#             drains what it has in hand), under the same load: no request may fail at all. The
#             figures (sent, failed, p50/p99 from the signal to the rejoin) are printed and kept
#             in benches/README.md.
#   refresh   one replica refreshes from the fixtures' Spacescope replay server while the other
#             keeps the older snapshot: unpinned answers name the snapshot that answered
#             (X-Snapshot-Id), answers pinned to the older snapshot (by id or by date) are
#             byte-identical whichever replica gives them, a pin nobody holds gets 409.
#   converge  the second replica refreshes too: both hold the same snapshot (id and date), and
#             the same pinned request asked of each replica directly gives the same bytes.
#
#   scripts/replicas.sh                      # CI runs it (.ci/run), after the local stack
#   KEEP_REPLICAS=1 scripts/replicas.sh      # keep the temporary directory (logs, data, haproxy.cfg)
#   REPLICAS_STEPS=kill scripts/replicas.sh  # only some steps (kill, refresh, converge; default all)
#
# The data. The fixtures' replay server (shared/fixtures/spacescope) serves one day only:
# 2025-09-09, recorded with "today" frozen at 2025-09-10. So:
# - the replicas live on 2025-09-10: their clock is libfaketime's (Debian's `faketime`,
#   installed when missing), started at 2025-09-10 06:00 UTC and running at normal speed
#   (monotonic clocks, hence tokio's timers, are left alone). The API's own update path then
#   asks for "yesterday", 2025-09-09, exactly as it asks Spacescope on Fly;
# - the "older" snapshot both replicas start from is the reference snapshot fixture (the real
#   network's 2025-09-09 data, as the Python reference service served it) imported with its
#   history starting one day earlier, so that it is dated 2025-09-08: a stand-in for
#   yesterday's snapshot, because the store keeps one snapshot per day and no second recorded
#   day exists. Both data directories import the same file separately, as two machines fetch
#   the same day separately.
# Where only the committed excerpt of the fixtures exists (GitHub's CI, MECHAFIL_FIXTURES=excerpt)
# there is no replay server: the kill step runs on the excerpt's copy of the reference snapshot
# and refresh/converge are skipped, said so; under CI=true anything else missing is a failure.
#
# Only loopback is used. Needs cargo, python3 (3.11+) and, when HAProxy or faketime must be
# installed, apt-get as root (or passwordless sudo). Takes under a minute after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# shellcheck source=scripts/processes.sh
source scripts/processes.sh

passed=0
step() { printf '\n== %s\n' "$*"; }
ok() { passed=$((passed + 1)); printf '  ok: %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
note() { printf '  %s\n' "$*"; }
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python3 >= 3.11 is needed (tomllib)"
py=$(python3 -c 'import sys; print(sys.executable)')
stack_client() { "$py" "$repo/scripts/stack_client.py" "$@"; }
in_ci() { [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; }
now() { date +%s.%N; }

steps=" ${REPLICAS_STEPS:-kill refresh converge} "
steps=${steps//,/ }
wants() { [[ "$steps" == *" $1 "* ]]; }
for s in $steps; do
    case "$s" in kill | refresh | converge) ;; *) die "REPLICAS_STEPS: unknown step $s (kill, refresh, converge)" ;; esac
done
if wants converge && ! wants refresh; then die "REPLICAS_STEPS: converge needs refresh"; fi

# --- the fixtures ---------------------------------------------------------------------------
old_date=2025-09-08 # the imported snapshot, dated one day early (see the top)
new_date=2025-09-09 # what the replay server serves
fixtures=${MECHAFIL_FIXTURES:-$repo/../shared/fixtures}
replay="$fixtures/spacescope/replay_server.py"
reference="$fixtures/reference-snapshot-2025-09-09.json"
skip_refresh=""
if [ "${MECHAFIL_FIXTURES:-}" = excerpt ]; then
    skip_refresh="MECHAFIL_FIXTURES=excerpt: the replay server is not in the committed excerpt"
    reference="$repo/mechafil-core/tests/fixtures/reference-snapshot-2025-09-09.json"
elif [ ! -f "$replay" ] || [ ! -f "$reference" ]; then
    in_ci && die "fixtures not found at $fixtures (set MECHAFIL_FIXTURES, or MECHAFIL_FIXTURES=excerpt where only the committed excerpt exists); CI=true requires them"
    skip_refresh="no fixtures at $fixtures (set MECHAFIL_FIXTURES)"
    reference="$repo/mechafil-core/tests/fixtures/reference-snapshot-2025-09-09.json"
fi
[ -f "$reference" ] || die "no reference snapshot at $reference"
if [ -n "$skip_refresh" ] && wants refresh; then
    echo "replicas: refresh and converge are skipped: $skip_refresh"
    steps=${steps/ refresh / }
    steps=${steps/ converge / }
fi

# --- Debian packages: HAProxy, and libfaketime for the refresh --------------------------------
apt_updated=""
apt_install() { # package...: as root, or through passwordless sudo (GitHub's runners)
    command -v apt-get >/dev/null 2>&1 || die "$* missing and no apt-get here: install them (Debian packages: $*)"
    local as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo -n true 2>/dev/null || die "$* missing and not root: install them with apt-get install $*"
        as_root=(sudo -n)
    fi
    local started=$SECONDS
    if [ -z "$apt_updated" ]; then
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=yes
    fi
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    note "installed $* from Debian's packages in $((SECONDS - started)) s"
}
step "HAProxy (Debian package haproxy)"
haproxy_bin=$(command -v haproxy || true)
[ -n "$haproxy_bin" ] || [ ! -x /usr/sbin/haproxy ] || haproxy_bin=/usr/sbin/haproxy
if [ -z "$haproxy_bin" ]; then
    apt_install haproxy
    haproxy_bin=$(command -v haproxy || echo /usr/sbin/haproxy)
fi
"$haproxy_bin" -v | sed -n 1p
find_faketime() {
    local lib
    for lib in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
        if [ -f "$lib" ]; then
            echo "$lib"
            return
        fi
    done
}
clock_env=()
if wants refresh; then
    step "libfaketime (Debian package faketime): the replicas' clock starts at 2025-09-10 06:00 UTC"
    faketime_lib=$(find_faketime)
    if [ -z "$faketime_lib" ]; then
        apt_install faketime
        faketime_lib=$(find_faketime)
        [ -n "$faketime_lib" ] || die "faketime is installed but libfaketimeMT.so.1 was not found"
    fi
    clock_env=(LD_PRELOAD="$faketime_lib" FAKETIME="@2025-09-10 06:00:00" FAKETIME_DONT_FAKE_MONOTONIC=1)
    note "$faketime_lib"
fi

# --- build ----------------------------------------------------------------------------------
step "build: cargo build --release --locked -p mechafil-api"
cargo build --release --locked -p mechafil-api
target_dir=$(cargo_target_dir)
bin="$target_dir/release/mechafil-api"
ok "built $bin"

root=$(mktemp -d "${TMPDIR:-/tmp}/mechafil-replicas.XXXXXX")
mkdir -p "$root/logs"
summary="$root/summary.txt"
: >"$summary"
client() { "$py" "$repo/scripts/replicas_client.py" --summary "$summary" "$@"; }
stop_processes_on_exit "$root" KEEP_REPLICAS

# --- the replay server, the replicas and the balancer ----------------------------------------
spacescope_env=()
if wants refresh; then
    step "the fixtures' Spacescope replay server ($new_date)"
    "$py" "$replay" --port 0 --quiet --token "Bearer fixture-token" --log "$root/logs/replay-served.log" \
        >"$root/logs/replay.out" 2>"$root/logs/replay.log" &
    pids[replay]=$!
    replay_url=""
    for _ in $(seq 200); do
        replay_url=$(sed -n 's/^REPLAY-READY //p' "$root/logs/replay.out")
        [ -z "$replay_url" ] || break
        sleep 0.05
    done
    [ -n "$replay_url" ] || die "the replay server did not print REPLAY-READY"
    spacescope_env=(SPACESCOPE_BASE_URL="$replay_url" SPACESCOPE_TOKEN=fixture-token)
    ok "replay server at $replay_url"
fi

# The containers' environment ([env] of fly/api/fly.toml, REFRESH_MAX_AGE=24h included: the
# snapshot is imported on the replicas' clock, so it is fresh and no replica refreshes unasked),
# then what differs here: loopback, a port and a data directory each, the machine name Fly sets.
mapfile -t api_fly_env < <(stack_client fly-env fly/api/fly.toml)
[ "${#api_fly_env[@]}" -gt 0 ] || die "cannot read the [env] of fly/api/fly.toml"
base_env=(PATH="$PATH")
[ -z "${RUST_LOG:-}" ] || base_env+=(RUST_LOG="$RUST_LOG")
admin_token="replicas-admin-token"
replicas=(replica-a replica-b)
declare -A port=()
for name in "${replicas[@]}"; do
    port[$name]=$(stack_client free-port)
    mkdir -p "$root/$name"
done
while [ "${port[replica-a]}" = "${port[replica-b]}" ]; do port[replica-b]=$(stack_client free-port); done
lb_port=$(stack_client free-port)
while [ "$lb_port" = "${port[replica-a]}" ] || [ "$lb_port" = "${port[replica-b]}" ]; do lb_port=$(stack_client free-port); done
url_of() { echo "http://127.0.0.1:${port[$1]}"; }
lb="http://127.0.0.1:$lb_port"

replica_env() { # name: the container's environment and this replica's port, data and machine name
    env_of_replica=("${base_env[@]}" "${api_fly_env[@]}" "${clock_env[@]}" "${spacescope_env[@]}"
        HOST=127.0.0.1 PORT="${port[$1]}" MECHAFIL_DATA_DIR="$root/$1" ADMIN_TOKEN="$admin_token" FLY_MACHINE_ID="$1")
}
start_replica() { # name
    replica_env "$1"
    # env execs the binary: $! is the server itself, so a SIGKILL reaches it and nothing else.
    env -i "${env_of_replica[@]}" "$bin" serve >>"$root/logs/$1.log" 2>&1 &
    pids[$1]=$!
}

step "seed: each data directory imports the same snapshot (dated $old_date), separately"
for name in "${replicas[@]}"; do
    replica_env "$name"
    env -i "${env_of_replica[@]}" "$bin" import "$reference" --start-date 2022-10-09 | sed "s/^/  $name: /"
done
ok "both stores hold the same snapshot"

step "start ${replicas[*]} (ports ${port[replica-a]} and ${port[replica-b]}) and HAProxy on $lb"
for name in "${replicas[@]}"; do start_replica "$name"; done
for name in "${replicas[@]}"; do stack_client wait-health "$(url_of "$name")/health"; done
socket="$root/haproxy.sock"
cat >"$root/haproxy.cfg" <<EOF
# Written by scripts/replicas.sh: HAProxy standing in for Fly's proxy in front of two replicas.
global
    maxconn 1024
    stats socket $socket mode 600 level user
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    # Also the pause before a retry on the same server: min(timeout connect, 1 s).
    timeout connect 250ms
    timeout client 30s
    timeout server 30s
    timeout check 1s
    # A request that cannot reach its replica, or whose replica closed the connection without
    # answering, is replayed on the other replica. Safe here: an answer is a pure function of
    # the snapshot and the request (no side effects), except the admin update, never replayed.
    # A transfer the replica aborts as it dies is not replayed (HAProxy counts it as a server
    # abort and closes the client's connection): the load check allows for exactly those.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response junk-response

frontend replicas
    bind 127.0.0.1:$lb_port
    default_backend api

backend api
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    http-request disable-l7-retry if { path_beg /admin/ }
    # Fly's proxy sends a request carrying fly-force-instance-id to that machine; so does this
    # stand-in (the daily workflow updates every machine that way: scripts/update_cache.py --machine).
    use-server replica-a if { req.hdr(fly-force-instance-id) -m str replica-a }
    use-server replica-b if { req.hdr(fly-force-instance-id) -m str replica-b }
    # Which replica answered, for the checks (Fly's proxy says it in fly-request-id / logs).
    http-response set-header X-Replica %s
    default-server check inter 500ms fall 2 rise 2
    server replica-a 127.0.0.1:${port[replica-a]}
    server replica-b 127.0.0.1:${port[replica-b]}
EOF
"$haproxy_bin" -c -q -f "$root/haproxy.cfg" || die "HAProxy rejects $root/haproxy.cfg"
"$haproxy_bin" -db -f "$root/haproxy.cfg" >"$root/logs/haproxy.log" 2>&1 &
pids[haproxy]=$!
client wait-balancer --socket "$socket" --servers replica-a,replica-b
ok "two replicas, separate data directories, behind HAProxy (health checks on /health)"

# --- a. kill (and stop) a replica under load --------------------------------------------------
stop_under_load() { # victim signal: 8 clients load the balancer for 10 s; the victim is stopped and restarted
    local victim=$1 signal=$2 load_pid load_code=0
    local events="$root/events-$victim-$signal"
    : >"$events"
    client load --url "$lb" --clients 8 --secs 10 --events "$events" --socket "$socket" \
        --victim "$victim" --signal "$signal" &
    load_pid=$!
    sleep 2.5
    echo "kill $(now)" >>"$events"
    stop_process "$victim" "$signal"
    # Down long enough for HAProxy's checks to notice (fall 2 x 500 ms), as a stopped machine.
    sleep 1.5
    echo "restart $(now)" >>"$events"
    start_replica "$victim"
    stack_client wait-health "$(url_of "$victim")/health" >/dev/null
    echo "healthy $(now)" >>"$events"
    wait "$load_pid" || load_code=$?
    [ "$load_code" -eq 0 ] || die "requests failed while $victim was stopped with SIG$signal (above)"
}
if wants kill; then
    step "kill: 8 clients POST /simulate through the balancer for 10 s; replica-a is SIGKILLed (a crash) and restarted"
    stop_under_load replica-a KILL
    ok "replica-a SIGKILLed and restarted on the same data directory under load: no request failed but those it had in hand at the kill"
    step "kill: the same while replica-b gets SIGTERM (a deploy or restart: it drains) and is restarted"
    stop_under_load replica-b TERM
    ok "replica-b stopped with SIGTERM and restarted under load: no request failed"
fi

# --- b. one replica refreshes, the other keeps the older snapshot -----------------------------
if wants refresh; then
    step "refresh: both replicas serve the same snapshot, imported separately"
    read -r old_id date_a source_a machine_a < <(client health "$(url_of replica-a)")
    read -r old_id_b date_b _ machine_b < <(client health "$(url_of replica-b)")
    note "replica-a: $old_id $date_a ($source_a), machine $machine_a; replica-b: $old_id_b $date_b, machine $machine_b"
    [[ "$old_id" =~ ^[0-9a-f]{16}$ ]] || die "/health has no snapshot.snapshot_id (got $old_id)"
    [ "$old_id" = "$old_id_b" ] || die "the same data imported twice has two snapshot ids: $old_id, $old_id_b"
    [ "$date_a" = "$old_date" ] && [ "$date_b" = "$old_date" ] || die "expected $old_date on both, got $date_a, $date_b"
    [ "$machine_a" = replica-a ] && [ "$machine_b" = replica-b ] || die "/health machine: $machine_a, $machine_b"
    ok "same data, same snapshot_id ($old_id, $old_date); /health names each machine"
    echo "old snapshot: $old_id ($old_date)" >>"$summary"

    step "refresh: POST /admin/update-cache on replica-a's own port (the replay server: $new_date)"
    ADMIN_TOKEN=$admin_token client admin-update --url "$(url_of replica-a)" --machine replica-a --current-date "$new_date"
    read -r new_id date_a _ _ < <(client health "$(url_of replica-a)")
    read -r still_b date_b _ _ < <(client health "$(url_of replica-b)")
    [[ "$new_id" =~ ^[0-9a-f]{16}$ ]] && [ "$new_id" != "$old_id" ] || die "replica-a's snapshot_id after the refresh: $new_id"
    [ "$date_a" = "$new_date" ] || die "replica-a serves $date_a after the refresh"
    [ "$still_b" = "$old_id" ] && [ "$date_b" = "$old_date" ] || die "replica-b changed without being asked: $still_b $date_b"
    ok "replica-a serves $new_id ($new_date); replica-b still serves $old_id ($old_date)"
    echo "new snapshot: $new_id ($new_date)" >>"$summary"

    step "refresh: answers through the balancer"
    client unpinned --url "$lb" --count 8 --expect "replica-a=$new_id" --expect "replica-b=$old_id"
    ok "unpinned answers say which snapshot answered (X-Snapshot-Id = the body's snapshot_id): both seen"
    client pinned --url "$lb" --pin "$old_id" --count 8 --expect-id "$old_id" --replicas replica-a,replica-b --save "$root/pinned-old"
    ok "pinned to $old_id: byte-identical from both replicas (replica-a loads it from its store)"
    client pinned --url "$lb" --pin "$old_date" --count 8 --expect-id "$old_id" --replicas replica-a,replica-b --same-as "$root/pinned-old"
    ok "pinned to $old_date: the same bytes as pinned to $old_id, from both replicas"
    client pinned-split --url "$lb" --pin "$new_id" --count 8 --expect-id "$new_id" --holders replica-a --lacking replica-b
    ok "pinned to $new_id: replica-a answers, replica-b (which lacks it) answers 409 listing what it holds"
    client unheld --url "$lb" --pin 0123456789abcdef --count 4 --replicas replica-a,replica-b --known "$old_id,$new_id"
    ok "pinned to an id nobody holds: 409 from both, listing the held snapshots"
fi

# --- c. the other replica refreshes too ------------------------------------------------------
if wants converge; then
    step "converge: the daily workflow's client updates replica-b through the balancer (fly-force-instance-id)"
    started=$(date +%s%N)
    ADMIN_TOKEN=$admin_token GITHUB_ACTIONS='' "$py" "$repo/scripts/update_cache.py" --url "$lb" \
        --machine replica-b --poll-secs 1 --timeout-secs 120 | sed 's/^/  /'
    echo "refresh of replica-b (update_cache.py through the balancer): $(( ($(date +%s%N) - started) / 1000000 )) ms" >>"$summary"
    read -r id_a date_a _ _ < <(client health "$(url_of replica-a)")
    read -r id_b date_b _ _ < <(client health "$(url_of replica-b)")
    note "replica-a: $id_a $date_a; replica-b: $id_b $date_b"
    [ "$id_a" = "$id_b" ] && [ "$date_a" = "$date_b" ] || die "after both refreshed: $id_a $date_a vs $id_b $date_b"
    [ "$id_a" = "$new_id" ] || die "replica-b fetched $id_b, replica-a had fetched $new_id: the same day, different data"
    ok "both replicas report the same snapshot: $id_a ($date_a), fetched separately"
    for pin in "$new_id" "$new_date" "$old_id"; do
        client same --url "$(url_of replica-a)" --url "$(url_of replica-b)" --pin "$pin"
    done
    ok "the same pinned requests asked of each replica directly: byte-identical"
    client unpinned --url "$lb" --count 4 --expect "replica-a=$new_id" --expect "replica-b=$new_id"
    ok "unpinned answers through the balancer: all from $new_id"
fi

for name in "${replicas[@]}" haproxy replay; do stop_process "$name"; done
step "figures"
sed 's/^/  /' "$summary"
printf '\nreplicas: %d passed, 0 failed\n' "$passed"
