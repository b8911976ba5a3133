#!/usr/bin/env python3
"""Refresh the data of a running MechaFil API and say which day it now covers.

    ADMIN_TOKEN=... python3 scripts/update_cache.py --url https://mechafil-api.fly.dev

POSTs /admin/update-cache with `Authorization: Bearer $ADMIN_TOKEN` (the token the API was
given as its ADMIN_TOKEN secret). The daily workflow .github/workflows/update-cache.yml runs
it; scripts/local-stack.sh and scripts/replicas.sh exercise it against the real binary.

An update reaches one machine: the one Fly's proxy picks, or with `--machine ID` that machine
(every request carries `fly-force-instance-id: ID`, the /health polls included, and the answer
must name that machine). With several machines, run it once per machine (`fly machines list`);
the daily workflow does.

- 200: prints the new snapshot (its last data day, `current_date`) and exits 0.
- 409 (an update is already running): this is the usual case on a scale-to-zero deployment,
  where this very request woke the machine and its refresh-on-wake started first. Polls
  GET /health until that update ends, then reports its outcome like a 200 or a failure.
- No answer, or a 502/503/504 that comes from a proxy rather than the API (which always
  answers JSON with an `error`): the update may still be running in the API; followed through
  /health like a 409, and it only counts if it finished after this run started.
- Anything else is a failure (exit 1) with the API's message and a hint: 401 wrong token,
  403 no ADMIN_TOKEN on the API, 502 Spacescope failed (the old data is still served),
  503 updates disabled (no Spacescope token on the API).

Standard library only. Inside GitHub Actions the result is also written as an annotation and
to the job summary.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

HINTS = {
    401: "the token does not match the API's ADMIN_TOKEN secret",
    403: "the API has no ADMIN_TOKEN secret, so the endpoint is disabled (fly secrets set ADMIN_TOKEN=...)",
    502: "Spacescope failed; the API still serves its previous snapshot",
    503: "the API cannot update: no Spacescope token (fly secrets set SPACESCOPE_TOKEN=...) or no store",
}


def in_github():
    return os.environ.get("GITHUB_ACTIONS") == "true"


# "machine <id>: " with --machine, so that the outcomes of a loop over machines tell them apart.
REPORT_PREFIX = ""


def report(ok, message):
    """Prints the outcome; in GitHub Actions also as an annotation and in the job summary."""
    message = REPORT_PREFIX + message
    print(message, flush=True)
    if in_github():
        kind = "notice" if ok else "error"
        print(f"::{kind} title=MechaFil data update::{message}", flush=True)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as out:
                out.write(f"{'✅' if ok else '❌'} {message}\n")


def request(method, url, token=None, timeout=30.0, machine=None):
    """Returns (status, parsed JSON body or text). HTTP errors are answers, not exceptions."""
    headers = {"Accept": "application/json", "User-Agent": "mechafil-update-cache"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if machine is not None:
        # Fly's proxy sends the request to this machine, or fails: no other machine answers.
        headers["fly-force-instance-id"] = machine
    req = urllib.request.Request(url, method=method, headers=headers, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def describe_snapshot(snapshot):
    if not isinstance(snapshot, dict):
        return "unknown snapshot"
    return (
        f"data through {snapshot.get('current_date')} "
        f"(source {snapshot.get('source')}, history from {snapshot.get('start_date')}, "
        f"fetched {snapshot.get('fetched_at')})"
    )


def attempt_outcome(attempt):
    """(ok, current_date or error) of a /health `last_update`, or None when there is none.

    The API writes {"started_at", "finished_at", "outcome": {"status": "updated",
    "current_date", ...} | {"status": "failed", "error"}}; a flat {"ok", "current_date",
    "error"} is accepted too.
    """
    if not isinstance(attempt, dict):
        return None
    outcome = attempt.get("outcome", attempt)
    if "status" in outcome:
        ok = outcome["status"] == "updated"
    else:
        ok = bool(outcome.get("ok"))
    return ok, (outcome.get("current_date") if ok else outcome.get("error", "unknown error"))


def finished_at(attempt):
    try:
        return datetime.fromisoformat(attempt["finished_at"].replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def other_machine(body, machine):
    """The machine an answer names when it is not `machine` (None when it is, or is unnamed)."""
    named = body.get("machine") if isinstance(body, dict) else None
    return named if machine is not None and named is not None and named != machine else None


def wait_for_running_update(base, deadline, poll, since, machine=None):
    """Polls /health until no update runs; reports the outcome of the last update, which must
    have finished after `since` (this run's start, less a margin for clock skew)."""
    while True:
        try:
            status, health = request("GET", f"{base}/health", machine=machine)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            status, health = None, str(err)
        if status == 200 and other_machine(health, machine):
            report(False, f"/health was answered by machine {health['machine']}, not {machine}")
            return 1
        if status == 200 and isinstance(health, dict) and not health.get("update_in_progress"):
            attempt = health.get("last_update")
            outcome = attempt_outcome(attempt)
            snapshot = describe_snapshot(health.get("snapshot"))
            ended = finished_at(attempt) if isinstance(attempt, dict) else None
            if outcome is None or ended is None or ended < since:
                report(False, f"no update finished since this run started; serving {snapshot}")
                return 1
            ok, detail = outcome
            if ok:
                report(True, f"update done (by the refresh that was already running): serving {snapshot}")
                return 0
            report(False, f"the update that was running failed: {detail}; still serving {snapshot}")
            return 1
        if time.monotonic() > deadline:
            report(False, f"an update was still running after the time limit (last /health: {status})")
            return 1
        running = status == 200 and isinstance(health, dict) and health.get("update_in_progress")
        state = "an update is running" if running else f"GET /health: {status}"
        print(f"  {state}; checking again in {poll:g} s", flush=True)
        time.sleep(poll)


def main():
    global REPORT_PREFIX
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="base URL of the API, e.g. https://mechafil-api.fly.dev")
    parser.add_argument("--timeout-secs", type=float, default=900, help="give up after this long (default 900)")
    parser.add_argument("--poll-secs", type=float, default=10, help="seconds between /health polls (default 10)")
    parser.add_argument("--machine", help="update this machine (Fly machine id, sent as fly-force-instance-id)")
    args = parser.parse_args()

    token = os.environ.get("ADMIN_TOKEN", "").strip()
    if not token:
        report(False, "ADMIN_TOKEN is empty: set the repository secret MECHAFIL_ADMIN_TOKEN")
        return 1
    base = args.url.rstrip("/")
    machine = args.machine
    if machine:
        REPORT_PREFIX = f"machine {machine}: "
    deadline = time.monotonic() + args.timeout_secs
    since = datetime.now(timezone.utc) - timedelta(minutes=2)

    print(f"POST {base}/admin/update-cache" + (f" (fly-force-instance-id: {machine})" if machine else ""), flush=True)
    try:
        status, body = request("POST", f"{base}/admin/update-cache", token=token, timeout=args.timeout_secs,
                               machine=machine)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        # A proxy may drop a long request; the update goes on in the API: follow it there.
        print(f"  no answer ({err}); following the update through /health", flush=True)
        return wait_for_running_update(base, deadline, args.poll_secs, since, machine)

    if other_machine(body, machine):
        report(False, f"HTTP {status} from machine {body['machine']}, not {machine}: the proxy routed it elsewhere")
        return 1
    if 200 <= status < 300:
        snapshot = body.get("snapshot") if isinstance(body, dict) else None
        named = body.get("machine") if isinstance(body, dict) else None
        on = f" on machine {named}" if named and not machine else ""
        report(True, f"updated{on}: {describe_snapshot(snapshot)}")
        return 0
    if status == 409:
        print("  409: an update is already running (the refresh-on-wake of a machine this request started)",
              flush=True)
        return wait_for_running_update(base, deadline, args.poll_secs, since, machine)
    from_api = isinstance(body, dict) and "error" in body
    if status in (502, 503, 504) and not from_api:
        print(f"  HTTP {status} from a proxy, not the API; following the update through /health", flush=True)
        return wait_for_running_update(base, deadline, args.poll_secs, since, machine)
    message = body.get("error") if from_api else str(body)[:500]
    hint = HINTS.get(status, "unexpected answer")
    report(False, f"HTTP {status}: {message} ({hint})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
