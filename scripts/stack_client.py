#!/usr/bin/env python3
"""Client side of scripts/local-stack.sh (and of the Docker smoke test in CI): plays the path
Claude takes through a MechaFil deployment and checks each answer. Standard library only.

    stack_client.py free-port
    stack_client.py fly-env fly/api/fly.toml
    stack_client.py wait-health URL [--timeout-secs 30]
    stack_client.py mcp-http --mcp-url http://127.0.0.1:8080/mcp --api-url http://127.0.0.1:8000
    stack_client.py mcp-stdio --binary target/release/mcp-server --api-url http://127.0.0.1:8000
    stack_client.py fake-spacescope --port P --delay-secs 6

`mcp-http` is what a Claude.ai connector does: `initialize`, `notifications/initialized`,
`tools/list`, `tools/call simulate`; the answer must carry a dated series, and its numbers must
be the API's own answer to the same request (so the MCP server really went through the API).
`mcp-stdio` does the same over stdin/stdout, as Claude Desktop does.
`fly-env` prints the `[env]` of a fly.toml as NAME=VALUE lines (the containers' environment).
`fake-spacescope` answers every request after a delay with a 503: an upstream that makes the
API's refresh slow and then fail, to exercise scripts/update_cache.py's 409 path.
"""

import argparse
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import date

PROTOCOL_VERSION = "2025-06-18"
CLIENT = {"name": "mechafil-local-stack", "version": "1"}
# A small request: 12 weeks of two series.
SIMULATE_ARGS = {"forecast_length_days": 84, "requested_metrics": ["circ_supply", "network_locked"]}
API_BODY = {"forecast_length_days": 84, "output": ["circ_supply", "network_locked"]}


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def say(message):
    print(f"  {message}", flush=True)


# --- HTTP helpers --------------------------------------------------------------------------


def http_call(method, url, body=None, headers=None, timeout=60.0):
    """(status, headers, text); HTTP error statuses are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


def sse_or_json(content_type, text):
    """The JSON-RPC messages of a streamable-HTTP answer (SSE `data:` lines or plain JSON)."""
    if not text.strip():
        return []
    if content_type.startswith("text/event-stream"):
        messages = []
        for event in text.replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(line[5:].lstrip() for line in event.splitlines() if line.startswith("data:"))
            if data.strip():
                messages.append(json.loads(data))
        return messages
    parsed = json.loads(text)
    return parsed if isinstance(parsed, list) else [parsed]


class HttpMcp:
    """A minimal streamable-HTTP MCP client (stateless server: the session id is echoed back)."""

    def __init__(self, url):
        self.url = url
        self.session = None
        self.protocol = None
        self.next_id = 1

    def _post(self, message):
        headers = {"Accept": "application/json, text/event-stream"}
        if self.session:
            headers["Mcp-Session-Id"] = self.session
        if self.protocol:
            headers["MCP-Protocol-Version"] = self.protocol
        status, resp_headers, text = http_call("POST", self.url, message, headers)
        self.session = resp_headers.get("Mcp-Session-Id") or self.session
        return status, sse_or_json(resp_headers.get("Content-Type", ""), text)

    def call(self, method, params=None):
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}}
        self.next_id += 1
        status, messages = self._post(message)
        check(status == 200, f"{method}: HTTP {status} {messages}")
        answers = [m for m in messages if m.get("id") == message["id"]]
        check(len(answers) == 1, f"{method}: expected one answer with id {message['id']}, got {messages}")
        check("error" not in answers[0], f"{method}: JSON-RPC error {answers[0].get('error')}")
        return answers[0]["result"]

    def notify(self, method):
        status, _ = self._post({"jsonrpc": "2.0", "method": method})
        check(200 <= status < 300, f"{method}: HTTP {status}")
        return status


class StdioMcp:
    """A minimal stdio MCP client: one JSON-RPC message per line."""

    def __init__(self, binary, env):
        self.proc = subprocess.Popen(
            [binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.next_id = 1
        # A hung server must not hang the script.
        self.watchdog = threading.Timer(60, self.proc.kill)
        self.watchdog.start()

    def send(self, message):
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def call(self, method, params=None):
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}}
        self.next_id += 1
        self.send(message)
        while True:
            line = self.proc.stdout.readline()
            if not line:
                fail(f"{method}: the server closed stdout (stderr: {self.proc.stderr.read()[-2000:]})")
            answer = json.loads(line)  # stdout carries protocol messages only
            if answer.get("id") == message["id"]:
                check("error" not in answer, f"{method}: JSON-RPC error {answer.get('error')}")
                return answer["result"]

    def notify(self, method):
        self.send({"jsonrpc": "2.0", "method": method})

    def close(self):
        self.proc.stdin.close()
        code = self.proc.wait(timeout=10)
        self.watchdog.cancel()
        return code


# --- the checks ----------------------------------------------------------------------------


def tool_payload(result, tool):
    check(not result.get("isError"), f"{tool} returned a tool error: {json.dumps(result)[:1500]}")
    payload = result.get("structuredContent")
    if payload is None:
        texts = [c["text"] for c in result.get("content", []) if c.get("type") == "text"]
        check(texts, f"{tool}: no text content")
        payload = json.loads(texts[0])
    return payload


def api_series(api_url):
    status, _, text = http_call("POST", f"{api_url.rstrip('/')}/simulate", API_BODY)
    check(status == 200, f"POST /simulate on the API: HTTP {status} {text[:500]}")
    return json.loads(text)


def play(client, api_url, transport):
    init = client.call(
        "initialize", {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT}
    )
    server = init.get("serverInfo", {})
    check(init.get("protocolVersion"), f"initialize: no protocolVersion in {init}")
    if isinstance(client, HttpMcp):
        client.protocol = init["protocolVersion"]
    say(f"initialize: {server.get('name')} {server.get('version')}, protocol {init['protocolVersion']}")
    client.notify("notifications/initialized")
    say("notifications/initialized: accepted")

    tools = [t["name"] for t in client.call("tools/list")["tools"]]
    for expected in ["fetch_context", "simulate", "get_historical_data", "provide_plot"]:
        check(expected in tools, f"tools/list: no {expected} in {tools}")
    say(f"tools/list: {', '.join(tools)}")

    started = time.monotonic()
    result = client.call("tools/call", {"name": "simulate", "arguments": SIMULATE_ARGS})
    elapsed_ms = (time.monotonic() - started) * 1000
    payload = tool_payload(result, "simulate")
    series = payload.get("series", {})
    dates = payload.get("series_dates", {})
    for name in SIMULATE_ARGS["requested_metrics"]:
        values = series.get(name)
        check(isinstance(values, list) and values, f"simulate: no series {name} in {list(series)}")
        check(all(isinstance(v, (int, float)) for v in values), f"simulate: {name} has non-numbers")
        span = dates.get(name, {})
        first = date.fromisoformat(span.get("start_date", "?"))
        last = date.fromisoformat(span.get("end_date", "?"))
        check(span.get("n_entries") == len(values), f"simulate: series_dates[{name}] = {span}, {len(values)} values")
        check(first <= last, f"simulate: {name} dates {first} .. {last}")
    check(date.fromisoformat(payload["sim_start_date"]), "simulate: sim_start_date")

    # The same numbers as the API's own answer: the MCP server went through the API.
    api = api_series(api_url)
    for name in SIMULATE_ARGS["requested_metrics"]:
        check(
            series[name] == api["simulation_output"][name],
            f"simulate: {name} differs from the API's POST /simulate answer",
        )
    data = payload.get("data", {})
    name = SIMULATE_ARGS["requested_metrics"][0]
    say(
        f"tools/call simulate ({elapsed_ms:.0f} ms): {name} has {len(series[name])} values, "
        f"{dates[name]['start_date']} .. {dates[name]['end_date']} every {payload.get('timestep_days')} days, "
        f"data {data.get('source')}{' (demo)' if data.get('is_demo') else ''}; equal to the API's answer"
    )
    print(f"OK: Claude's path over {transport}: MCP tools/call simulate -> API -> dated series", flush=True)


# --- subcommands ---------------------------------------------------------------------------


def cmd_free_port(_args):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_fly_env(args):
    import tomllib  # Python 3.11+

    with open(args.file, "rb") as f:
        env = tomllib.load(f).get("env", {})
    for name, value in env.items():
        check(isinstance(value, str) and "\n" not in value, f"{args.file}: [env] {name} must be a one-line string")
        print(f"{name}={value}")


def cmd_wait_health(args):
    deadline = time.monotonic() + args.timeout_secs
    last = None
    while time.monotonic() < deadline:
        try:
            status, _, text = http_call("GET", args.url, timeout=2)
            if status == 200:
                body = json.loads(text)
                snapshot = body.get("snapshot") or {}
                detail = f", snapshot {snapshot.get('source')} {snapshot.get('current_date')}" if snapshot else ""
                say(f"{args.url}: 200 {body.get('status')}, version {body.get('version')}{detail}")
                return
            last = f"HTTP {status}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            last = str(err)
        time.sleep(0.02)
    fail(f"{args.url} did not answer 200 within {args.timeout_secs:g} s (last: {last})")


def cmd_mcp_http(args):
    play(HttpMcp(args.mcp_url), args.api_url, "streamable HTTP")


def cmd_mcp_stdio(args):
    import os

    env = dict(os.environ, MCP_TRANSPORT="stdio", MECHAFIL_SERVER_URL=args.api_url)
    client = StdioMcp(args.binary, env)
    play(client, args.api_url, "stdio")
    code = client.close()
    check(code == 0, f"mcp-server (stdio) exited with {code} when stdin closed")
    say("stdin closed: mcp-server exited 0")


def cmd_fake_spacescope(args):
    delay = args.delay_secs

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            time.sleep(delay)
            body = b'{"code": 503, "message": "fake Spacescope: unavailable"}'
            try:
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out first, as intended

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Slow)
    server.daemon_threads = True
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("free-port").set_defaults(run=cmd_free_port)
    p = sub.add_parser("fly-env")
    p.add_argument("file")
    p.set_defaults(run=cmd_fly_env)
    p = sub.add_parser("wait-health")
    p.add_argument("url")
    p.add_argument("--timeout-secs", type=float, default=30)
    p.set_defaults(run=cmd_wait_health)
    p = sub.add_parser("mcp-http")
    p.add_argument("--mcp-url", required=True)
    p.add_argument("--api-url", required=True)
    p.set_defaults(run=cmd_mcp_http)
    p = sub.add_parser("mcp-stdio")
    p.add_argument("--binary", required=True)
    p.add_argument("--api-url", required=True)
    p.set_defaults(run=cmd_mcp_stdio)
    p = sub.add_parser("fake-spacescope")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--delay-secs", type=float, default=6)
    p.set_defaults(run=cmd_fake_spacescope)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
