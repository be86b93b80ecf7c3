#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""MCP over streamable HTTP (spec 2025-06-18), stdlib only: a server on
127.0.0.1 in a thread of this process and a client calling it, each
request on a connection of its own. The server answers initialize with
JSON and an Mcp-Session-Id, tools/call echo with an SSE stream (a progress
notification, then the answer), tools/call fail with isError, an unknown
tool with a JSON-RPC error, notifications with 202. Prints the port and
what the client saw as JSON.
"""
import http.client
import http.server
import json
import os
import threading

SESSION = "sess-7f3a"


def text_result(text, is_error=False):
    return {"content": [{"type": "text", "text": text}], "isError": is_error}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, ctype=None, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        msg = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        rid, method = msg.get("id"), msg.get("method")
        if rid is None:
            return self.reply(202)
        params = msg.get("params") or {}
        if method == "initialize":
            ans = {"jsonrpc": "2.0", "id": rid, "result": {
                "protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                "serverInfo": {"name": "spanprobe-test-http", "version": "1.0"}}}
            return self.reply(200, "application/json", json.dumps(ans).encode(),
                              [("Mcp-Session-Id", SESSION)])
        name = params.get("name")
        if method == "tools/call" and name == "echo":
            events = [{"jsonrpc": "2.0", "method": "notifications/progress",
                       "params": {"progressToken": rid, "progress": 0.5}},
                      {"jsonrpc": "2.0", "id": rid,
                       "result": text_result(params["arguments"]["text"])}]
            body = "".join("event: message\r\ndata: %s\r\n\r\n" % json.dumps(e) for e in events)
            return self.reply(200, "text/event-stream", body.encode(),
                              [("Cache-Control", "no-cache")])
        if method == "tools/call" and name == "fail":
            ans = {"jsonrpc": "2.0", "id": rid, "result": text_result("always fails", True)}
        else:
            ans = {"jsonrpc": "2.0", "id": rid,
                   "error": {"code": -32602, "message": "Unknown tool: %s" % name}}
        self.reply(200, "application/json", json.dumps(ans).encode())


def post(port, msg, session=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if session:
        h["Mcp-Session-Id"] = session
        h["MCP-Protocol-Version"] = "2025-06-18"
    c.request("POST", "/mcp", json.dumps(msg), h)
    r = c.getresponse()
    body = r.read().decode()
    sid = r.getheader("Mcp-Session-Id")
    c.close()
    return r.status, r.getheader("Content-Type"), body, sid


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    seen = []
    st, ct, body, session = post(port, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                        "params": {"protocolVersion": "2025-06-18",
                                                   "capabilities": {},
                                                   "clientInfo": {"name": "t", "version": "1"}}})
    seen.append(["initialize", st, ct])
    st, ct, body, _ = post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                           session)
    seen.append(["notifications/initialized", st, ct])
    for rid, tool in ((2, "echo"), (3, "fail"), (4, "nope")):
        st, ct, body, _ = post(port, {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                                      "params": {"name": tool, "arguments": {"text": "hi"}}},
                               session)
        seen.append(["tools/call " + tool, st, ct])
    srv.shutdown()
    print(json.dumps({"pid": os.getpid(), "port": port, "session": session, "seen": seen}))


if __name__ == "__main__":
    main()
