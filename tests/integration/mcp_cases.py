# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""MCP over streamable HTTP, system-wide: a stdlib client POSTs JSON-RPC
to a stdlib server on 127.0.0.1 (mcp/http_pair.py); each call's HTTP
CLIENT span has an MCP child span with the method, tool, session and
transport, errors as CONVENTIONS "MCP" says. (MCP over stdio is
agent_cases.py's mcp_stdio.)

Registered in cases.CASES, so run.py runs them with the others.
"""
import json
import os

from cases import case
from checks import expect
from harness import PYTHON
from otlp import STATUS_ERROR

HERE = os.path.dirname(os.path.abspath(__file__))


@case
def mcp_http(ctx):
    """MCP over streamable HTTP: JSON and SSE answers, isError, a JSON-RPC
    error, a notification (202) that is no MCP span."""
    probe = ctx.probe()
    res = ctx.run([PYTHON, os.path.join(HERE, "mcp", "http_pair.py")])
    expect(res.rc == 0, f"the MCP HTTP pair exited {res.rc}: {res.stderr[-600:]}")
    info = json.loads(res.stdout.strip().splitlines()[-1])
    out = probe.stop()
    pid = info["pid"]
    mine = [s for s in out.spans if s.attrs.get("process.pid", s.pid) == pid]
    both = [s for s in mine if "mcp.method.name" in s.attrs]
    by_id = {s.span_id: s for s in out.spans}
    want = ["initialize", "tools/call echo", "tools/call fail", "tools/call nope"]
    for kind, side in ((3, "CLIENT"), (2, "SERVER")):
        spans = [s for s in both if s.kind == kind]
        names = sorted(s.name for s in spans)
        expect(names == want, f"MCP {side} spans {names}, want initialize and three tools/call",
               both)
        for s in spans:
            parent = by_id.get(s.parent_id)
            expect(parent is not None and parent.name == "POST /mcp" and parent.kind == kind,
                   f"{s.name!r} is not the child of its POST /mcp {side} span", [s, parent])
            expect(s.attrs.get("network.transport") == "tcp"
                   and s.attrs.get("jsonrpc.protocol.version") == "2.0",
                   f"{s.name!r}: network.transport or jsonrpc.protocol.version", [s])
    # the caller's side from here on
    mcp = [s for s in both if s.kind == 3]
    init = [s for s in mcp if s.name == "initialize"][0]
    expect(init.attrs.get("mcp.session.id") == info["session"]
           and init.attrs.get("mcp.protocol.version") == "2025-06-18",
           "initialize: the session the server assigned, or the protocol version", [init])
    echo = [s for s in mcp if s.name == "tools/call echo"][0]
    expect(echo.attrs.get("gen_ai.tool.name") == "echo"
           and echo.attrs.get("gen_ai.operation.name") == "execute_tool"
           and echo.attrs.get("mcp.session.id") == info["session"]
           and echo.status_code != STATUS_ERROR,
           "tools/call echo (an SSE answer): tool, operation, session or status", [echo])
    fail = [s for s in mcp if s.name == "tools/call fail"][0]
    expect(fail.status_code == STATUS_ERROR and fail.attrs.get("error.type") == "tool_error",
           "an isError result is not ERROR tool_error", [fail])
    nope = [s for s in mcp if s.name == "tools/call nope"][0]
    expect(nope.status_code == STATUS_ERROR and nope.attrs.get("error.type") == "-32602"
           and nope.attrs.get("rpc.response.status_code") == -32602,
           "the unknown tool's JSON-RPC error is not ERROR with its code", [nope])
