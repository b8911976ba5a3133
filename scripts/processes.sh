# shellcheck shell=bash
# Sourced by scripts/local-stack.sh and scripts/replicas.sh: the processes such a script starts
# (by name in `pids`), stopped when it exits, with their logs shown when it fails.
#
#   source scripts/processes.sh
#   stop_processes_on_exit "$root" KEEP_STACK   # on exit: stop them all; show $root/logs/*.log on
#                                               # failure; remove $root unless $KEEP_STACK is set
#   some-server >"$root/logs/x.log" 2>&1 & pids[x]=$!
#   stop_process x [SIGNAL]

declare -A pids=()

# The target directory cargo builds into (CARGO_TARGET_DIR or the workspace's).
cargo_target_dir() {
    cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'
}

stop_process() { # name [signal]: signal the process we started, wait up to 20 s, then kill it
    local name=$1 signal=${2:-TERM} pid=${pids[$1]:-}
    [ -n "$pid" ] || return 0
    kill -s "$signal" "$pid" 2>/dev/null || true
    if [ "$signal" = KILL ]; then
        # Reaped at once, so the shell does not report the killed job on its own.
        { wait "$pid"; } 2>/dev/null || true
        unset "pids[$name]"
        return 0
    fi
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -s KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "pids[$name]"
}

stop_processes_on_exit() { # root keep_var
    processes_root=$1
    processes_keep_var=$2
    trap stop_processes_and_clean_up EXIT
}

stop_processes_and_clean_up() {
    local code=$?
    for name in "${!pids[@]}"; do stop_process "$name"; done
    if [ "$code" -ne 0 ]; then
        for log in "$processes_root"/logs/*.log; do
            [ -f "$log" ] || continue
            printf '\n--- last lines of %s\n' "$log" >&2
            tail -n 30 "$log" >&2
        done
    fi
    if [ -n "${!processes_keep_var:-}" ]; then
        echo "kept $processes_root"
    else
        rm -rf "$processes_root"
    fi
}
