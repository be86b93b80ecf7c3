#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A minimal MCP client over stdio, stdlib only: spawns stdio_server.py as
its child over pipes and runs a session: initialize,
notifications/initialized, tools/list, tools/call echo (with a
params._meta.traceparent), fail, fetch, roots (the server asks roots/list
back), an unknown tool, an unknown method. Prints what it saw as one JSON
object: the pids, and per request its method, id, tool, and the answer.

  stdio_client.py [--url URL] [--delay-ms N] [--server PATH]

Without --url it serves one page on 127.0.0.1 itself for fetch to GET.
"""
import argparse
import http.server
import json
import os
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Session:
    def __init__(self, server):
        self.proc = subprocess.Popen([sys.executable, server], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.next_id = 0
        self.server_requests = []

    def send(self, msg):
        self.proc.stdin.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
        self.proc.stdin.flush()

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def request(self, method, params=None):
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise EOFError("the server closed its stdout")
            ans = json.loads(line)
            if "method" in ans and "id" in ans:
                self.answer_server(ans)
            elif "method" not in ans and ans.get("id") == rid:
                return ans

    def answer_server(self, req):
        """The server's own request (roots/list here)."""
        self.server_requests.append(req["method"])
        if req["method"] == "roots/list":
            self.send({"jsonrpc": "2.0", "id": req["id"],
                       "result": {"roots": [{"uri": "file:///tmp", "name": "tmp"}]}})
        else:
            self.send({"jsonrpc": "2.0", "id": req["id"],
                       "error": {"code": -32601, "message": "not supported"}})

    def close(self):
        self.proc.stdin.close()
        return self.proc.wait(timeout=10)


def serve_one_page():
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"hello from 127.0.0.1"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, "http://127.0.0.1:%d/page" % srv.server_address[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", help="what the fetch tool GETs (127.0.0.1 only)")
    ap.add_argument("--delay-ms", type=int, default=0, help="how long echo takes")
    ap.add_argument("--server", default=os.path.join(HERE, "stdio_server.py"))
    a = ap.parse_args()
    srv = None
    url = a.url
    if not url:
        srv, url = serve_one_page()

    s = Session(a.server)
    seen = []

    def call(method, params=None, tool=None):
        ans = s.request(method, params)
        seen.append({"method": method, "id": ans.get("id"), "tool": tool,
                     "result": ans.get("result"), "error": ans.get("error")})
        return ans

    call("initialize", {"protocolVersion": "2025-06-18", "capabilities": {"roots": {}},
                        "clientInfo": {"name": "spanprobe-test-client", "version": "1.0"}})
    s.notify("notifications/initialized")
    call("tools/list", {})
    call("tools/call", {"name": "echo", "arguments": {"text": "hi", "delay_ms": a.delay_ms},
                        "_meta": {"traceparent": TRACEPARENT}}, "echo")
    call("tools/call", {"name": "fail", "arguments": {}}, "fail")
    call("tools/call", {"name": "fetch", "arguments": {"url": url}}, "fetch")
    call("tools/call", {"name": "roots", "arguments": {}}, "roots")
    call("tools/call", {"name": "nope", "arguments": {}}, "nope")
    call("no/such/method", {})
    server_pid = s.proc.pid
    rc = s.close()
    if srv:
        srv.shutdown()
    print(json.dumps({"client_pid": os.getpid(), "server_pid": server_pid,
                      "server_exit": rc, "url": url, "traceparent": TRACEPARENT,
                      "server_requests": s.server_requests, "calls": seen}))


if __name__ == "__main__":
    main()
