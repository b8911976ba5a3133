#!/usr/bin/env python3
"""Client side of scripts/replicas.sh: load through the balancer while a replica dies, and the
snapshot checks of two API replicas behind it. Standard library only.

    replicas_client.py wait-balancer --socket S --servers a,b      # until HAProxy has both UP
    replicas_client.py load --url LB --clients 8 --secs 10 --events FILE --socket S --victim V --signal KILL|TERM
    replicas_client.py health URL                                  # snapshot_id current_date source machine
    replicas_client.py admin-update --url URL --machine M --current-date D   (ADMIN_TOKEN in the env)
    replicas_client.py unpinned --url LB --count N --expect a=ID --expect b=ID
    replicas_client.py pinned --url LB --pin P --count N --expect-id ID --replicas a,b [--save F] [--same-as F]
    replicas_client.py pinned-split --url LB --pin P --count N --expect-id ID --holders a --lacking b
    replicas_client.py unheld --url LB --pin P --count N --replicas a,b --known ID,ID
    replicas_client.py same --url A --url B --pin P

Every answer that comes through the balancer names the replica that gave it in `X-Replica`
(HAProxy adds it: `http-response set-header X-Replica %s`). Each subcommand prints what it saw,
appends its figures to `--summary FILE` when given, and exits 1 at the first failed check.
"""

import argparse
import csv
import hashlib
import http.client
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

# The local stack's client, beside this file: its reporting helpers.
from stack_client import check, fail, say

# The load: a 10-year forecast of three series, sampled weekly (what the explorer asks for).
LOAD_BODY = {"forecast_length_days": 3650, "output": ["circ_supply", "network_locked", "1y_sector_roi"]}
# The pinned requests: one POST and one GET, each computed from a snapshot.
SIM_BODY = {"forecast_length_days": 365, "rr": 0.7, "output": ["circ_supply", "network_locked", "1y_sector_roi"]}
HISTORICAL_QUERY = "fields=network_raw_power_eib,renewal_rate"
SNAPSHOT_ID = re.compile(r"^[0-9a-f]{16}$")

summary_file = None


def record(key, value):
    """A figure for the summary at the end of replicas.sh."""
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as out:
            out.write(f"{key}: {value}\n")


# --- HTTP ----------------------------------------------------------------------------------


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def replica(self):
        return self.header("x-replica") or "?"

    @property
    def snapshot_id(self):
        return self.header("x-snapshot-id")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            fail(f"HTTP {self.status} from {self.replica}: not JSON: {self.body[:200]!r}")

    def sha(self):
        return hashlib.sha256(self.body).hexdigest()[:16]


def call(base, method, path, body=None, headers=None, timeout=30.0):
    """One request on a fresh connection; HTTP error statuses are answers, not exceptions."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        sent = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=sent)
        resp = conn.getresponse()
        return Answer(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


def pinned_request(base, kind, pin, headers=None):
    """The pinned request of `kind` (simulate: POST /simulate; historical: GET /historical-data)."""
    if kind == "simulate":
        body = dict(SIM_BODY)
        if pin is not None:
            body["snapshot"] = pin
        return call(base, "POST", "/simulate", body=body, headers=headers)
    query = HISTORICAL_QUERY if pin is None else f"{HISTORICAL_QUERY}&snapshot={urllib.parse.quote(pin)}"
    return call(base, "GET", f"/historical-data?{query}", headers=headers)


def body_snapshot_id(answer):
    """The snapshot id an answer's body names (docs/API.md): `input.snapshot.snapshot_id`
    (/simulate), `snapshot.snapshot_id` (analyses) or `data.snapshot_id` (/historical-data)."""
    body = answer.json()
    for path in (("input", "snapshot"), ("snapshot",), ("data",)):
        node = body
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and "snapshot_id" in node:
            return node["snapshot_id"]
    fail(f"the answer from {answer.replica} names no snapshot_id in its body")


# --- HAProxy's stats socket ----------------------------------------------------------------


def haproxy_stats(path):
    """Rows of `show stat` (CSV) as dicts, keyed by their columns (pxname, svname, status, ...)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(b"show stat\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    text = b"".join(chunks).decode()
    lines = [line for line in text.splitlines() if line.strip()]
    check(lines and lines[0].startswith("# "), f"unexpected answer of the stats socket: {text[:200]!r}")
    lines[0] = lines[0][2:]
    return list(csv.DictReader(lines))


def server_rows(path, backend="api", frontend="replicas"):
    """The backend's servers and its BACKEND row, and the frontend's FRONTEND row."""
    return {
        row["svname"]: row
        for row in haproxy_stats(path)
        if row["pxname"] == backend or (row["pxname"] == frontend and row["svname"] == "FRONTEND")
    }


COUNTERS = ("wretr", "wredis", "ereq", "econ", "eresp", "cli_abrt", "srv_abrt", "hrsp_5xx")


def counter_differences(before, after):
    """`after`'s rows with the COUNTERS made relative to `before` (other columns as they are)."""
    rows = {}
    for name, row in after.items():
        row = dict(row)
        for counter in COUNTERS:
            if row.get(counter) not in (None, ""):
                row[counter] = str(int(row[counter]) - int(before.get(name, {}).get(counter) or 0))
        rows[name] = row
    return rows


def cmd_wait_balancer(args):
    wanted = args.servers.split(",")
    deadline = time.monotonic() + args.timeout_secs
    states = {}
    while time.monotonic() < deadline:
        try:
            rows = server_rows(args.socket)
        except (FileNotFoundError, ConnectionRefusedError):
            rows = {}  # HAProxy has not opened its stats socket yet
        states = {name: rows.get(name, {}).get("status", "absent") for name in wanted}
        if all(state == "UP" for state in states.values()):
            say(f"HAProxy: {', '.join(f'{n} {s}' for n, s in states.items())}")
            return
        time.sleep(0.05)
    fail(f"HAProxy did not see every replica UP within {args.timeout_secs:g} s: {states}")


# --- load while a replica is killed --------------------------------------------------------


def percentile(values, q):
    """numpy's default (linear) percentile of a non-empty list."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def latency_line(samples):
    if not samples:
        return "no requests"
    ms = [s[1] * 1000 for s in samples]
    return (
        f"{len(samples)} requests, p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
        f"max {max(ms):.1f} ms"
    )


def cmd_load(args):
    url = urllib.parse.urlsplit(args.url)
    body = json.dumps(LOAD_BODY).encode()
    headers = {"Content-Type": "application/json"}
    stop_at = time.time() + args.secs
    samples = []  # (wall-clock start, seconds, status (0: no answer), replica, error)
    lock = threading.Lock()

    def client():
        conn = None
        port = "?"
        mine = []
        while (started := time.time()) < stop_at:
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=args.timeout_secs)
                    conn.connect()
                    port = conn.sock.getsockname()[1]
                conn.request("POST", "/simulate", body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                status, replica = resp.status, resp.getheader("X-Replica", "?")
                error = None if 200 <= status < 300 else f"HTTP {status} from {replica}: {data[:160]!r}"
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as err:
                # The local port names the connection in HAProxy's log (logs/haproxy.log).
                status, replica, error = 0, "?", f"{type(err).__name__} (local port {port}): {err}"
                if conn is not None:
                    conn.close()
                    conn = None
            mine.append((started, time.perf_counter() - t0, status, replica, error))
        if conn is not None:
            conn.close()
        with lock:
            samples.extend(mine)

    # HAProxy's counters run from its start: this load's figures are the differences.
    counters_before = server_rows(args.socket)
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # What replicas.sh did meanwhile: "<event> <unix time>" lines (kill, restart, healthy).
    events = {}
    with open(args.events, encoding="utf-8") as f:
        for line in f:
            name, _, when = line.partition(" ")
            events[name] = float(when)
    for name in ("kill", "restart", "healthy"):
        check(name in events, f"{args.events} has no '{name}' event: the kill did not happen during the load")
    window_end = events["healthy"] + args.rejoin_secs
    check(window_end < stop_at, "the load ended before the restarted replica was back in the balancer")

    failed = [s for s in samples if s[4] is not None]
    before = [s for s in samples if s[0] < events["kill"]]
    window = [s for s in samples if events["kill"] <= s[0] < window_end]
    down = [s for s in samples if events["kill"] <= s[0] < events["restart"]]
    after = [s for s in samples if s[0] >= window_end]
    per_replica = {}
    for s in samples:
        per_replica[s[3]] = per_replica.get(s[3], 0) + 1
    say(
        f"{len(samples)} requests sent by {args.clients} clients in {args.secs:g} s "
        f"({len(samples) / args.secs:.0f}/s), answered by {dict(sorted(per_replica.items()))}"
    )
    say(
        f"SIG{args.signal} to {args.victim} at +{events['kill'] - (stop_at - args.secs):.2f} s, restarted it "
        f"{events['restart'] - events['kill']:.2f} s later, /health answered "
        f"{events['healthy'] - events['restart']:.2f} s after the restart"
    )
    say(f"before the signal: {latency_line(before)}")
    say(f"signal to rejoin:  {latency_line(window)}  (until {args.rejoin_secs:g} s after the restart answered)")
    say(f"  while it was down: {latency_line(down)}")
    say(f"after that:        {latency_line(after)}")
    rows = counter_differences(counters_before, server_rows(args.socket))
    hidden = {
        name: f"{row.get('wretr', '0') or '0'} retries, {row.get('wredis', '0') or '0'} redispatches"
        for name, row in rows.items()
        if name != "FRONTEND"
    }
    say(f"HAProxy hid: {hidden}")
    counters = ("ereq", "econ", "eresp", "cli_abrt", "srv_abrt", "hrsp_5xx")
    for name, row in sorted(rows.items()):
        errors = {c: row.get(c) for c in counters if row.get(c) not in (None, "", "0")}
        if errors:
            say(f"HAProxy {name} error counters: {errors}")
    rejoined = sum(1 for s in after if s[3] == args.victim)
    say(f"{args.victim} answered {rejoined} of the {len(after)} requests after the window (it rejoined)")
    for s in failed[:10]:
        say(f"failed at +{s[0] - (stop_at - args.secs):.3f} s after {s[1] * 1000:.0f} ms: {s[4]}")

    # What the balancer does not hide: requests the victim had in hand at the instant of the
    # SIGKILL. HAProxy replays a request whose connection was refused or closed before any
    # answer, but not one whose transfer the dying replica aborted (it counts those as errors
    # of the server, eresp and srv_abrt, and closes the client's connection). So a request may
    # fail only that way: no answer at all (the connection closed), ending within half a second
    # of the kill, at most one per client; any other failure (an HTTP error, a failure while the
    # replica was down, restarting or back) fails the check.
    # A SIGTERM drains: the replica finishes what it has in hand, so nothing may fail at all.
    at_kill = [s for s in failed if s[2] == 0 and events["kill"] <= s[0] + s[1] <= events["kill"] + 0.5]
    explained = 0 if args.signal == "TERM" else min(len(at_kill), args.clients)
    unexplained = len(failed) - explained
    victim_row = rows.get(args.victim, {})
    aborted = {c: int(victim_row.get(c) or 0) for c in ("eresp", "srv_abrt")}
    if failed:
        say(
            f"{explained} of the {len(failed)} failed requests were in {args.victim}'s hands at the kill "
            f"(HAProxy counted {aborted} for it)"
        )

    ms = [s[1] * 1000 for s in window] or [0.0]
    tag = f"SIG{args.signal} to {args.victim} under load"
    record(f"{tag}: requests sent", len(samples))
    record(f"{tag}: failed (non-2xx or no answer)", len(failed))
    record(f"{tag}: of which in its hands at the signal", explained)
    record(f"{tag}: HAProxy's aborted transfers of it", json.dumps(aborted))
    record(f"{tag}: requests from the signal to the rejoin", len(window))
    record(f"{tag}: p50 ms in that window", f"{percentile(ms, 50):.1f}")
    record(f"{tag}: p99 ms in that window", f"{percentile(ms, 99):.1f}")
    record(f"{tag}: max ms in that window", f"{max(ms):.1f}")
    if before:
        bms = [s[1] * 1000 for s in before]
        record(f"{tag}: p50/p99 ms before the signal", f"{percentile(bms, 50):.1f} / {percentile(bms, 99):.1f}")
    record(f"{tag}: HAProxy retries/redispatches", json.dumps(hidden))
    check(len(window) >= args.clients, f"only {len(window)} requests fell between the signal and the rejoin")
    check(rejoined > 0, f"{args.victim} answered nothing after it was restarted")
    check(
        unexplained == 0,
        f"{unexplained} of {len(samples)} requests failed while {args.victim} was stopped (SIG{args.signal}) and "
        "restarted" + ("" if args.signal == "TERM" else ", other than those it had in hand at the kill"),
    )


# --- snapshots -----------------------------------------------------------------------------


def cmd_health(args):
    answer = call(args.url, "GET", "/health", timeout=5)
    check(answer.status == 200, f"{args.url}/health: HTTP {answer.status}")
    health = answer.json()
    snapshot = health.get("snapshot") or {}
    fields = [snapshot.get("snapshot_id"), snapshot.get("current_date"), snapshot.get("source"), health.get("machine")]
    print(" ".join(str(f) for f in fields))


def cmd_admin_update(args):
    token = os.environ.get("ADMIN_TOKEN", "")
    check(token, "ADMIN_TOKEN is not set")
    started = time.monotonic()
    answer = call(args.url, "POST", "/admin/update-cache", headers={"Authorization": f"Bearer {token}"}, timeout=300)
    took = time.monotonic() - started
    check(answer.status == 200, f"POST {args.url}/admin/update-cache: HTTP {answer.status}: {answer.body[:300]!r}")
    reply = answer.json()
    snapshot = reply.get("snapshot") or {}
    say(f"POST /admin/update-cache -> 200 in {took:.2f} s: {json.dumps(reply, sort_keys=True)[:400]}")
    check(reply.get("status") == "updated", f"the update did not say 'updated': {reply}")
    check(
        snapshot.get("current_date") == args.current_date,
        f"the update activated {snapshot.get('current_date')}, expected {args.current_date}",
    )
    check(reply.get("machine") == args.machine, f"the reply names machine {reply.get('machine')!r}, not {args.machine!r}")
    record(f"refresh of {args.machine}: seconds", f"{took:.2f}")


def parse_expectations(pairs):
    expected = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        expected[name] = value
    return expected


def cmd_unpinned(args):
    expected = parse_expectations(args.expect)
    seen = {}
    for kind in ("simulate", "historical"):
        for _ in range(args.count):
            answer = pinned_request(args.url, kind, None)
            check(answer.status == 200, f"unpinned {kind}: HTTP {answer.status} from {answer.replica}")
            sid = answer.snapshot_id
            check(sid is not None and SNAPSHOT_ID.match(sid), f"unpinned {kind} from {answer.replica}: X-Snapshot-Id {sid!r}")
            check(body_snapshot_id(answer) == sid, f"unpinned {kind}: the body's snapshot_id is not X-Snapshot-Id {sid}")
            check(answer.replica in expected, f"answered by an unknown replica {answer.replica!r}")
            check(
                sid == expected[answer.replica],
                f"unpinned {kind}: {answer.replica} answered from {sid}, it serves {expected[answer.replica]}",
            )
            seen[(answer.replica, sid)] = seen.get((answer.replica, sid), 0) + 1
    ids = {sid for _, sid in seen}
    say(f"unpinned answers by (replica, X-Snapshot-Id): {dict(sorted(seen.items()))}")
    check(ids == set(expected.values()), f"expected answers from {sorted(set(expected.values()))}, saw {sorted(ids)}")
    record("unpinned: answers by (replica, snapshot)", json.dumps({f"{r} {s}": n for (r, s), n in sorted(seen.items())}))


def cmd_pinned(args):
    replicas = set(args.replicas.split(","))
    for kind in ("simulate", "historical"):
        answers = [pinned_request(args.url, kind, args.pin) for _ in range(args.count)]
        for a in answers:
            check(a.status == 200, f"{kind} pinned to {args.pin}: HTTP {a.status} from {a.replica}: {a.body[:300]!r}")
            check(a.snapshot_id == args.expect_id, f"{kind} pinned to {args.pin}: X-Snapshot-Id {a.snapshot_id} from {a.replica}")
            check(body_snapshot_id(a) == args.expect_id, f"{kind} pinned to {args.pin}: the body names another snapshot")
        by = {a.replica for a in answers}
        check(by == replicas, f"{kind} pinned to {args.pin} was answered by {sorted(by)}, expected {sorted(replicas)}")
        digests = {a.sha() for a in answers}
        check(len(digests) == 1, f"{kind} pinned to {args.pin}: {len(digests)} different bodies from {sorted(by)}")
        etags = {a.header("etag") for a in answers}
        check(len(etags) == 1 and None not in etags, f"{kind} pinned to {args.pin}: ETags {etags}")
        etag = etags.pop()
        revalidated = [pinned_request(args.url, kind, args.pin, headers={"If-None-Match": etag}) for _ in range(args.count)]
        for a in revalidated:
            check(a.status == 304, f"{kind} pinned to {args.pin} with If-None-Match: HTTP {a.status} from {a.replica}")
        check({a.replica for a in revalidated} == replicas, f"{kind}: 304s came from {sorted({a.replica for a in revalidated})}")
        say(
            f"{kind} pinned to {args.pin}: {len(answers)} answers from {sorted(by)}, one body "
            f"(sha256 {digests.pop()}, {len(answers[0].body)} bytes), one ETag {etag}; If-None-Match -> 304 from both"
        )
        if args.save:
            with open(f"{args.save}.{kind}", "wb") as out:
                out.write(answers[0].body)
        if args.same_as:
            with open(f"{args.same_as}.{kind}", "rb") as f:
                check(f.read() == answers[0].body, f"{kind} pinned to {args.pin} differs from the answer saved in {args.same_as}")
            say(f"  byte-identical to the answer pinned as in {args.same_as}")
    record(f"pinned to {args.pin}: byte-identical from", ",".join(sorted(replicas)))


def held_ids(answer, pin):
    body = answer.json()
    check(
        isinstance(body.get("error"), str) and isinstance(body.get("details"), list),
        f"409 for {pin} from {answer.replica}: not the error shape: {body}",
    )
    held = body.get("held")
    check(isinstance(held, list) and held, f"409 for {pin} from {answer.replica} lists no held snapshots: {body}")
    for entry in held:
        check(
            isinstance(entry, dict)
            and SNAPSHOT_ID.match(str(entry.get("snapshot_id")))
            and re.match(r"^\d{4}-\d{2}-\d{2}$", str(entry.get("current_date")))
            and isinstance(entry.get("source"), str),
            f"409 for {pin} from {answer.replica}: a held entry lacks snapshot_id/current_date/source: {entry}",
        )
    return {entry["snapshot_id"] for entry in held}


def cmd_pinned_split(args):
    holders = set(args.holders.split(","))
    lacking = set(args.lacking.split(","))
    counts = {}
    for kind in ("simulate", "historical"):
        for _ in range(args.count):
            a = pinned_request(args.url, kind, args.pin)
            counts[(a.replica, a.status)] = counts.get((a.replica, a.status), 0) + 1
            if a.replica in holders:
                check(a.status == 200 and a.snapshot_id == args.expect_id, f"{kind} pinned to {args.pin} from {a.replica}: HTTP {a.status}, {a.snapshot_id}")
            else:
                check(a.replica in lacking, f"unknown replica {a.replica}")
                check(a.status == 409, f"{kind} pinned to {args.pin} from {a.replica}, which lacks it: HTTP {a.status}")
                check(args.expect_id not in held_ids(a, args.pin), f"{a.replica} answers 409 but lists {args.expect_id} as held")
    say(f"pinned to {args.pin} (held by {sorted(holders)} only): {dict(sorted(counts.items()))}")
    check({r for r, _ in counts} == holders | lacking, f"not every replica was asked: {counts}")
    record(f"pinned to {args.pin} (held by one replica): (replica, status) counts", json.dumps({f"{r} {s}": n for (r, s), n in sorted(counts.items())}))


def cmd_unheld(args):
    replicas = set(args.replicas.split(","))
    known = set(args.known.split(","))
    held_by = {}
    for kind in ("simulate", "historical"):
        for _ in range(args.count):
            a = pinned_request(args.url, kind, args.pin)
            check(a.status == 409, f"{kind} pinned to {args.pin}, which nobody holds: HTTP {a.status} from {a.replica}")
            ids = held_ids(a, args.pin)
            check(ids <= known, f"{a.replica} lists unknown snapshots {sorted(ids - known)}")
            held_by.setdefault(a.replica, set()).update(ids)
    check(set(held_by) == replicas, f"409s came from {sorted(held_by)}, expected {sorted(replicas)}")
    say(f"pinned to {args.pin}: 409 from {sorted(held_by)}, held: {({r: sorted(i) for r, i in sorted(held_by.items())})}")
    record(f"pinned to an unheld id: 409 from", ",".join(sorted(held_by)))


def cmd_same(args):
    for kind in ("simulate", "historical"):
        answers = [pinned_request(url, kind, args.pin) for url in args.url]
        for url, a in zip(args.url, answers):
            check(a.status == 200, f"{kind} pinned to {args.pin} at {url}: HTTP {a.status}: {a.body[:300]!r}")
        check(len({a.body for a in answers}) == 1, f"{kind} pinned to {args.pin}: the replicas' own answers differ")
        check(len({a.snapshot_id for a in answers}) == 1, f"{kind}: X-Snapshot-Id differs between the replicas")
        say(f"{kind} pinned to {args.pin}, asked of each replica directly: byte-identical (sha256 {answers[0].sha()})")
    record(f"asked directly, pinned to {args.pin}", "byte-identical on both replicas")


def main():
    global summary_file
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--summary", help="append figures to this file")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("wait-balancer")
    p.add_argument("--socket", required=True)
    p.add_argument("--servers", required=True)
    p.add_argument("--timeout-secs", type=float, default=20)
    p.set_defaults(run=cmd_wait_balancer)
    p = sub.add_parser("load")
    p.add_argument("--url", required=True)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--secs", type=float, default=10)
    p.add_argument("--timeout-secs", type=float, default=30)
    p.add_argument("--events", required=True)
    p.add_argument("--socket", required=True)
    p.add_argument("--victim", required=True)
    p.add_argument("--rejoin-secs", type=float, default=1.5)
    p.add_argument("--signal", choices=["KILL", "TERM"], default="KILL", help="how the victim is stopped")
    p.set_defaults(run=cmd_load)
    p = sub.add_parser("health")
    p.add_argument("url")
    p.set_defaults(run=cmd_health)
    p = sub.add_parser("admin-update")
    p.add_argument("--url", required=True)
    p.add_argument("--machine", required=True)
    p.add_argument("--current-date", required=True)
    p.set_defaults(run=cmd_admin_update)
    p = sub.add_parser("unpinned")
    p.add_argument("--url", required=True)
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--expect", action="append", required=True, help="REPLICA=SNAPSHOT_ID")
    p.set_defaults(run=cmd_unpinned)
    p = sub.add_parser("pinned")
    p.add_argument("--url", required=True)
    p.add_argument("--pin", required=True)
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--expect-id", required=True)
    p.add_argument("--replicas", required=True)
    p.add_argument("--save")
    p.add_argument("--same-as")
    p.set_defaults(run=cmd_pinned)
    p = sub.add_parser("pinned-split")
    p.add_argument("--url", required=True)
    p.add_argument("--pin", required=True)
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--expect-id", required=True)
    p.add_argument("--holders", required=True)
    p.add_argument("--lacking", required=True)
    p.set_defaults(run=cmd_pinned_split)
    p = sub.add_parser("unheld")
    p.add_argument("--url", required=True)
    p.add_argument("--pin", required=True)
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--replicas", required=True)
    p.add_argument("--known", required=True)
    p.set_defaults(run=cmd_unheld)
    p = sub.add_parser("same")
    p.add_argument("--url", action="append", required=True)
    p.add_argument("--pin", required=True)
    p.set_defaults(run=cmd_same)
    args = parser.parse_args()
    summary_file = args.summary
    args.run(args)


if __name__ == "__main__":
    main()
