#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A minimal MCP server over stdio (spec 2025-06-18), stdlib only.

One JSON-RPC 2.0 message per line on stdin, answers on stdout, each
written with a single write(2) as the SDKs do. Tools:
  echo   {"text", "delay_ms"?}  -> the text back
  fail   {}                     -> a result with isError: true
  fetch  {"url"}                -> GETs the URL (127.0.0.1 only) and returns
                                   its status and first bytes: its HTTP call
                                   is made inside the tools/call
  roots  {}                     -> asks the client roots/list (a request of
                                   the server's own) and returns the answer
Any other tool is a JSON-RPC error -32602, any other method -32601.
"""
import json
import os
import sys
import time
import urllib.parse
import urllib.request

PROTOCOL = "2025-06-18"
TOOLS = [
    {"name": "echo", "description": "Echo the text back",
     "inputSchema": {"type": "object", "properties": {"text": {"type": "string"},
                                                      "delay_ms": {"type": "integer"}},
                     "required": ["text"]}},
    {"name": "fail", "description": "Always fails (isError)",
     "inputSchema": {"type": "object", "properties": {}}},
    {"name": "fetch", "description": "GET a loopback URL",
     "inputSchema": {"type": "object", "properties": {"url": {"type": "string"}},
                     "required": ["url"]}},
    {"name": "roots", "description": "Ask the client for its roots",
     "inputSchema": {"type": "object", "properties": {}}},
]

_out = sys.stdout.buffer
_in = sys.stdin.buffer
_next_id = 0


def send(msg):
    # one message, one line, one write
    _out.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
    _out.flush()


def text_result(text, is_error=False):
    return {"content": [{"type": "text", "text": text}], "isError": is_error}


def ask_client(method, params):
    """A request of the server's own: waits for its answer on stdin."""
    global _next_id
    _next_id += 1
    rid = "s-%d" % _next_id
    send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
    for line in _in:
        msg = json.loads(line)
        if msg.get("id") == rid and "method" not in msg:
            return msg
    raise EOFError("stdin closed while waiting for " + method)


def call_tool(name, args):
    if name == "echo":
        time.sleep(int(args.get("delay_ms", 0)) / 1000.0)
        return text_result(str(args.get("text", "")))
    if name == "fail":
        return text_result("this tool always fails", True)
    if name == "fetch":
        url = str(args.get("url", ""))
        if urllib.parse.urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
            return text_result("only loopback URLs are fetched", True)
        # straight to loopback, whatever proxy the environment names
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=10) as r:
            body = r.read(200).decode("utf-8", "replace")
            return text_result("%d %s" % (r.status, body))
    if name == "roots":
        ans = ask_client("roots/list", {})
        return text_result(json.dumps(ans.get("result", ans.get("error"))))
    return None


def handle(msg):
    method, rid = msg.get("method"), msg.get("id")
    if method is None or rid is None:
        return  # a notification (notifications/initialized), or a stray answer
    params = msg.get("params") or {}
    if method == "initialize":
        result = {"protocolVersion": PROTOCOL,
                  "capabilities": {"tools": {"listChanged": False}},
                  "serverInfo": {"name": "spanprobe-test-server", "version": "1.0"}}
    elif method == "ping":
        result = {}
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        try:
            result = call_tool(params.get("name"), params.get("arguments") or {})
        except Exception as e:  # a tool that raised: isError, as the SDKs do
            result = text_result("%s: %s" % (type(e).__name__, e), True)
        if result is None:
            send({"jsonrpc": "2.0", "id": rid,
                  "error": {"code": -32602, "message": "Unknown tool: %s" % params.get("name")}})
            return
    else:
        send({"jsonrpc": "2.0", "id": rid,
              "error": {"code": -32601, "message": "Method not found: %s" % method}})
        return
    send({"jsonrpc": "2.0", "id": rid, "result": result})


def main():
    sys.stderr.write("stdio_server: pid %d\n" % os.getpid())
    for line in _in:
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            send({"jsonrpc": "2.0", "id": None,
                  "error": {"code": -32700, "message": "Parse error"}})
            continue
        handle(msg)


if __name__ == "__main__":
    main()
