# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Agent trees, system-wide (README "Agents"): which process is the agent,
its invoke_agent root from its start to its exit, the tool calls the model
asked for as execute_tool spans with the commands they ran nested under
them, subprocesses outside any tool call as tools of their own, sub-agents
nested. The model is agent_server.py, scripted by the agent's own first
message; everything goes to 127.0.0.1.

Registered in cases.CASES, so run.py runs them with the others.
"""
import json
import os
import subprocess
import time

from cases import case
from checks import expect
from harness import PYTHON, Servers
from otlp import STATUS_ERROR

HERE = os.path.dirname(os.path.abspath(__file__))
NEST_SLACK_NS = 2_000_000


class AgentServer(Servers):
    def __init__(self, ctx):
        super().__init__(ctx, "agent_server.py", "the fake agent model")


def write(ctx, name, text, mode=0o644):
    path = os.path.join(ctx.dir, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def named(out, name, pid=None):
    return [s for s in out.spans if s.name == name
            and (pid is None or s.attrs.get("process.pid") == pid)]


def one(spans, what, evidence):
    expect(len(spans) == 1, f"want exactly one {what}, got {len(spans)}", spans or evidence)
    return spans[0]


def in_trace(out, root):
    return [s for s in out.spans if s.trace_id == root.trace_id]


def child_of(span, parent, what, evidence):
    expect(span.trace_id == parent.trace_id and span.parent_id == parent.span_id,
           f"{what}: {span.name!r} is not a child of {parent.name!r} "
           f"(parent {span.parent_id or '-'}, want {parent.span_id})", [span, parent] + evidence)
    expect(parent.start - NEST_SLACK_NS <= span.start and span.end <= parent.end + NEST_SLACK_NS,
           f"{what}: {span.name!r} is not within {parent.name!r} in time", [span, parent])


def tool_window(out, trace, call_id, name):
    spans = [s for s in trace if s.attrs.get("gen_ai.tool.call.id") == call_id
             and s.attrs.get("gen_ai.operation.name") == "execute_tool"]
    w = one(spans, f"execute_tool span for call {call_id}", trace)
    ev = [w]
    expect(w.name == f"execute_tool {name}", f"tool span named {w.name!r}", ev)
    expect(w.attrs.get("gen_ai.tool.name") == name and w.attrs.get("tool.name") == name,
           f"tool span's tool names are not {name!r}", ev)
    expect(w.attrs.get("openinference.span.kind") == "TOOL", "tool span is not TOOL", ev)
    expect(w.attrs.get("tool_call.id") == call_id, "tool span lacks tool_call.id", ev)
    return w


def llm_spans(trace):
    return [s for s in trace if s.attrs.get("openinference.span.kind") == "LLM"]


SHELL_AGENT = r"""#!/bin/sh
# A shell agent: asks the model, runs what it asked for, calls a tool API
# (rate-limited once), sends the results back.
U=$1
cat > ask.json <<'JSON'
{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "{\"calls\": [{\"id\": \"call_ls\", \"name\": \"shell\", \"arguments\": {\"command\": \"ls -la /\"}}, {\"id\": \"call_fail\", \"name\": \"shell\", \"arguments\": {\"command\": \"cat /nonexistent/agent-test\"}}]}"}]}
JSON
git --version > /dev/null 2>&1 || true
curl -s -H 'Content-Type: application/json' -d @ask.json "$U/v1/chat/completions" > r1.json
ls -la / > /dev/null
cat /nonexistent/agent-test 2> /dev/null
curl -s "$U/flaky?key=$$" > /dev/null
curl -s "$U/flaky?key=$$" > /dev/null
cat > answer.json <<'JSON'
{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "{\"calls\": [{\"id\": \"call_ls\", \"name\": \"shell\", \"arguments\": {\"command\": \"ls -la /\"}}, {\"id\": \"call_fail\", \"name\": \"shell\", \"arguments\": {\"command\": \"cat /nonexistent/agent-test\"}}]}"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "call_ls", "type": "function", "function": {"name": "shell", "arguments": "{}"}}, {"id": "call_fail", "type": "function", "function": {"name": "shell", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "call_ls", "content": "bin boot"}, {"role": "tool", "tool_call_id": "call_fail", "content": "No such file"}]}
JSON
curl -s -H 'Content-Type: application/json' -d @answer.json "$U/v1/chat/completions" > r2.json
grep -q 'All done' r2.json
"""


@case
def agent_shell(ctx):
    """A shell-script agent whose model calls are curl children: one tree
    rooted at the script from its start (a git probe before the first call
    included), the tool calls with the commands they ran, the failing one
    ERROR with its exit code, the tool API calls under the tool window."""
    srv = AgentServer(ctx)
    probe = ctx.probe()
    script = write(ctx, "shell-agent.sh", SHELL_AGENT, 0o755)
    t0 = time.time_ns()
    res = ctx.run(["/bin/sh", script, f"http://127.0.0.1:{srv.http_port}"])
    t1 = time.time_ns()
    expect(res.rc == 0, f"the agent exited {res.rc}: {res.stderr[-400:]}")
    out = probe.stop()

    root = one(named(out, "invoke_agent shell-agent.sh", res.pid),
               "invoke_agent shell-agent.sh span of the script", out.spans[:40])
    trace = in_trace(out, root)
    ev = [root]
    expect(root.parent_id == "", "the agent is not a trace root", ev)
    expect(root.attrs.get("gen_ai.operation.name") == "invoke_agent"
           and root.attrs.get("gen_ai.agent.name") == "shell-agent.sh"
           and root.attrs.get("openinference.span.kind") == "AGENT"
           and root.attrs.get("agent.name") == "shell-agent.sh", "agent attributes", ev)
    expect(t0 - NEST_SLACK_NS <= root.start <= t0 + 200_000_000 and root.end <= t1,
           "the agent span does not run from the script's start to its exit", ev)
    for s in trace:
        expect(root.start - NEST_SLACK_NS <= s.start and s.end <= root.end + NEST_SLACK_NS,
               f"{s.name!r} lies outside the agent's span", [s, root])

    llms = llm_spans(trace)
    expect(len(llms) == 2, f"want the agent's 2 LLM spans in its trace, got {len(llms)}", trace)
    git = one([s for s in trace if s.name == "execute_tool git"],
              "execute_tool git span (run before the first model call)", trace)
    child_of(git, root, "a start-up probe", trace)

    w_ls = tool_window(out, trace, "call_ls", "shell")
    w_fail = tool_window(out, trace, "call_fail", "shell")
    for w in (w_ls, w_fail):
        child_of(w, root, "a tool call", trace)
        expect(w.start >= llms[0].end - NEST_SLACK_NS and w.end <= llms[1].start + NEST_SLACK_NS,
               "a tool window does not run from the asking response to the answering request",
               [w] + llms)
    ls = one([s for s in trace if s.attrs.get("process.executable.name") == "ls"], "ls span",
             trace)
    child_of(ls, w_ls, "ls, by its command line", trace)
    cat = one([s for s in trace if s.attrs.get("process.executable.name") == "cat"
               and "/nonexistent" in s.attrs.get("process.command_line", "")],
              "span of the failing cat", trace)
    child_of(cat, w_fail, "the failing command, by its command line", trace)
    expect(cat.status_code == STATUS_ERROR and cat.attrs.get("process.exit.code") == 1
           and cat.attrs.get("error.type") == "1", "the failing command is not ERROR, exit 1",
           [cat])
    flaky = [s for s in trace if s.attrs.get("url.path") == "/flaky" and s.kind == 3]
    expect(len(flaky) == 2, f"want 2 /flaky HTTP spans in the agent's trace, got {len(flaky)}",
           trace)
    flaky.sort(key=lambda s: s.start)
    expect([s.attrs.get("http.response.status_code") for s in flaky] == [429, 200],
           "the tool API answered 429 then 200", flaky)
    expect(flaky[0].status_code == STATUS_ERROR and "http.request.resend_count" not in flaky[0].attrs
           and flaky[1].attrs.get("http.request.resend_count") == 1,
           "the failed attempt is not ERROR, or the repeat is not marked as its resend", flaky)
    expect('"name":"retry"' in out.text, "no retry event on the span the agent retried in",
           flaky)
    curls = [s for s in trace if s.attrs.get("process.executable.name") == "curl"]
    expect(len(curls) == 4, f"want 4 curl process spans, got {len(curls)}", trace)
    for c in curls:
        expect(not c.name.startswith("execute_tool"),
               "curl making the agent's calls is not a tool of its own", [c])


PY_AGENT = r"""
import json, os, subprocess, sys, time, urllib.request

U = sys.argv[1]
calls = [
    {"id": "toolu_ls", "name": "run", "arguments": {"command": "ls -la /usr"}},
    {"id": "toolu_notes", "name": "read_notes", "arguments": {"path": "notes.txt"}},
    {"id": "toolu_sub", "name": "delegate", "arguments": {"command": "sub_agent.py --task x"}},
]
ask = {"role": "user", "content": json.dumps({"calls": calls})}


def post(path, body):
    req = urllib.request.Request(U + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


r1 = post("/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [ask]})
results = []
for block in r1["content"]:
    if block.get("type") != "tool_use":
        continue
    if block["name"] == "run":
        subprocess.run(["ls", "-la", "/usr"], stdout=subprocess.DEVNULL, check=True)
        results.append({"type": "tool_result", "tool_use_id": block["id"], "content": "ok"})
    elif block["name"] == "read_notes":
        t = time.monotonic()
        time.sleep(0.4)  # in-process work: no subprocess, no call
        results.append({"type": "tool_result", "tool_use_id": block["id"], "is_error": True,
                        "content": "no such file"})
    else:
        subprocess.run([sys.executable, "sub_agent.py", "--task", "x", U], check=True)
        results.append({"type": "tool_result", "tool_use_id": block["id"], "content": "done"})
r2 = post("/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [
    ask, {"role": "assistant", "content": r1["content"]}, {"role": "user", "content": results}]})
assert r2["stop_reason"] == "end_turn", r2
"""

PY_SUB_AGENT = r"""
import json, sys, urllib.request
body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "summarise"}]}
req = urllib.request.Request(sys.argv[-1] + "/v1/chat/completions", json.dumps(body).encode(),
                             {"Content-Type": "application/json"})
with urllib.request.urlopen(req) as r:
    assert json.load(r)["choices"][0]["message"]["content"] == "All done."
"""


@case
def agent_python_tools(ctx):
    """A python3 agent on the Anthropic API: three tool calls, one run as a
    subprocess, one in-process (0.4 s, reported as an error), one a python3
    sub-agent making its own model call: execute_tool spans with their ids
    and windows, the subprocess and the nested AGENT under the right ones."""
    srv = AgentServer(ctx)
    probe = ctx.probe()
    write(ctx, "agent.py", PY_AGENT)
    write(ctx, "sub_agent.py", PY_SUB_AGENT)
    res = ctx.run([PYTHON, "agent.py", f"http://127.0.0.1:{srv.http_port}"])
    expect(res.rc == 0, f"the agent exited {res.rc}: {res.stderr[-600:]}")
    out = probe.stop()

    root = one(named(out, "invoke_agent agent.py", res.pid), "invoke_agent agent.py span",
               out.spans[:40])
    expect(root.parent_id == "", "the agent is not a trace root", [root])
    trace = in_trace(out, root)
    w_ls = tool_window(out, trace, "toolu_ls", "run")
    w_notes = tool_window(out, trace, "toolu_notes", "read_notes")
    w_sub = tool_window(out, trace, "toolu_sub", "delegate")
    for w in (w_ls, w_notes, w_sub):
        child_of(w, root, "a tool call", trace)
    expect(w_notes.status_code == STATUS_ERROR and w_notes.attrs.get("error.type") == "tool_error",
           "a tool_result with is_error is not an ERROR tool span", [w_notes])
    expect(w_notes.duration_ms >= 400, f"the in-process tool's window is {w_notes.duration_ms:.1f}"
           " ms, but it took 400 ms at least", [w_notes])
    ls = one([s for s in trace if s.attrs.get("process.executable.name") == "ls"], "ls span",
             trace)
    child_of(ls, w_ls, "the subprocess of the run tool", trace)
    sub = one([s for s in trace if s.name == "invoke_agent sub_agent.py"],
              "nested invoke_agent sub_agent.py span", trace)
    child_of(sub, w_sub, "the sub-agent, by its command line", trace)
    sub_llm = [s for s in llm_spans(trace) if s.attrs.get("gen_ai.request.model") == "gpt-4o-mini"]
    expect(len(sub_llm) == 1, "the sub-agent's model call is not in the agent's trace", trace)
    expect(len(llm_spans(trace)) == 3, "want 3 LLM spans in the run", trace)


TP_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TP_SPAN = "00f067aa0ba902b7"


@case
def trace_context_header(ctx):
    """A client that sends W3C traceparent/tracestate (an app with an OTel
    SDK inside): its CLIENT span and the server's SERVER span both join that
    trace under the header's span; tracestate kept; a request without the
    header keeps spanprobe's own trace."""
    srv = ctx.servers()
    probe = ctx.probe()
    hdrs = {"traceparent": f"00-{TP_TRACE}-{TP_SPAN}-01", "tracestate": "congo=t61rcWkgMzE"}
    res = ctx.run_python([{"url": srv.url("/delay?ms=20", tls=False), "headers": hdrs},
                          {"url": srv.url("/delay?ms=21", tls=False)}])
    expect(res.rc == 0, f"client exited {res.rc}: {res.stderr[-300:]}")
    out = probe.stop()
    spans = [s for s in out.spans if s.name == "GET /delay" and s.trace_id == TP_TRACE]
    ev = [s for s in out.spans if s.name == "GET /delay"]
    expect(len(spans) == 2, f"want the client's and the server's span in trace {TP_TRACE}, got "
           f"{len(spans)}", ev)
    kinds = sorted(s.kind for s in spans)
    expect(kinds == [2, 3], f"want a SERVER and a CLIENT span, got kinds {kinds}", spans)
    for s in spans:
        expect(s.parent_id == TP_SPAN, f"{s.name!r} is not a child of the header's span", [s])
        expect(any("ms=20" in str(v) for v in s.attrs.values()),
               "the span of the request with the header is not the one in its trace", [s])
    expect(out.text.count('"traceState":"congo=t61rcWkgMzE"') == 2, "tracestate was not kept on "
           "both spans", spans)
    others = [s for s in ev if s.trace_id != TP_TRACE and s.pid == res.pid]
    expect(len(others) == 1 and others[0].parent_id, "the request without the header does not "
           "stay in the client's own trace", others)


def mcp_spans(out, method, kind, pid, tool=None):
    return [s for s in out.spans if s.attrs.get("mcp.method.name") == method and s.kind == kind
            and s.attrs.get("process.pid", s.pid) == pid
            and (tool is None or s.attrs.get("gen_ai.tool.name") == tool)]


@case
def mcp_stdio(ctx):
    """MCP over stdio pipes, system-wide: a stdlib client (the MCP host,
    hence an agent) spawns its server; a CLIENT span in the host and a
    SERVER span in the server, its child, per request; isError and
    JSON-RPC errors ERROR; the server's own HTTP call under its tools/call
    SERVER span; the server's request back (roots/list) the other way."""
    srv = ctx.servers()
    probe = ctx.probe()
    res = ctx.run([PYTHON, os.path.join(HERE, "mcp", "stdio_client.py"), "--url",
                   srv.url("/delay?ms=30", tls=False)])
    expect(res.rc == 0, f"the MCP client exited {res.rc}: {res.stderr[-600:]}")
    info = json.loads(res.stdout.strip().splitlines()[-1])
    cpid, spid = info["client_pid"], info["server_pid"]
    out = probe.stop()

    host = one(named(out, "invoke_agent stdio_client.py", cpid), "the MCP host's AGENT span",
               out.spans[:40])
    by_id = {s.span_id: s for s in out.spans}
    for method, tool in (("initialize", None), ("tools/list", None), ("tools/call", "echo"),
                         ("tools/call", "fail"), ("tools/call", "fetch")):
        what = f"{method} {tool or ''}".strip()
        c = one(mcp_spans(out, method, 3, cpid, tool), f"CLIENT span {what!r} in the host",
                [s for s in out.spans if "mcp.method.name" in s.attrs])
        s = one(mcp_spans(out, method, 2, spid, tool), f"SERVER span {what!r} in the server",
                [s for s in out.spans if "mcp.method.name" in s.attrs])
        ev = [c, s]
        expect(c.name == what and s.name == what, f"MCP spans named {c.name!r}/{s.name!r}, want "
               f"{what!r}", ev)
        expect(s.parent_id == c.span_id and s.trace_id == c.trace_id,
               f"the SERVER span of {what!r} is not the CLIENT span's child", ev)
        expect(c.attrs.get("network.transport") == "pipe" and c.attrs.get("jsonrpc.request.id"),
               f"{what!r}: network.transport or jsonrpc.request.id missing", ev)
        if tool != "echo":  # echo carries a traceparent: its own trace
            expect(c.trace_id == host.trace_id, f"{what!r} is not in the host's trace", ev + [host])
    fail = one(mcp_spans(out, "tools/call", 3, cpid, "fail"), "fail", out.spans)
    expect(fail.status_code == STATUS_ERROR and fail.attrs.get("error.type") == "tool_error",
           "an isError result is not ERROR tool_error", [fail])
    echo = one(mcp_spans(out, "tools/call", 3, cpid, "echo"), "echo", out.spans)
    expect(echo.trace_id == TP_TRACE and echo.parent_id == TP_SPAN,
           "params._meta.traceparent did not put the call into its trace", [echo])
    errs = [s for s in out.spans if s.attrs.get("rpc.response.status_code") == -32602
            and s.attrs.get("process.pid", s.pid) == cpid]
    expect(len(errs) == 1 and errs[0].status_code == STATUS_ERROR
           and errs[0].attrs.get("error.type") == "-32602",
           "the unknown tool's JSON-RPC error is not an ERROR span with its code", errs)
    fetch = one(mcp_spans(out, "tools/call", 2, spid, "fetch"), "fetch SERVER", out.spans)
    http = [s for s in out.spans if s.name == "GET /delay" and s.pid == spid and s.kind == 3]
    expect(len(http) == 1 and http[0].parent_id == fetch.span_id,
           "the server's HTTP call is not under its tools/call SERVER span",
           http + [fetch] + [by_id.get(h.parent_id) for h in http if h.parent_id in by_id])
    roots = mcp_spans(out, "roots/list", 3, spid)
    expect(len(roots) == 1, "the server's roots/list request is not a CLIENT span in the server",
           [s for s in out.spans if "mcp.method.name" in s.attrs])


SERVICE_A = r"""
import http.server, json, sys, urllib.request

B = sys.argv[1]


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        with urllib.request.urlopen(B) as r:
            inner = r.read()
        body = json.dumps({"inner": len(inner)}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.handle_request()
"""


@case
def local_services(ctx):
    """Two local services calling each other over loopback, all traced and
    no header sent: the client's CLIENT span, service A's SERVER span under
    it, A's own call to B under that, B's SERVER span under A's call: one
    trace."""
    srv = ctx.servers()
    probe = ctx.probe()
    path = write(ctx, "service_a.py", SERVICE_A)
    a = ctx.spawn([PYTHON, path, srv.url("/delay?ms=15", tls=False)],
                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    port = int(a.stdout.readline())
    res = ctx.run_python([{"url": f"http://127.0.0.1:{port}/a"}])
    expect(res.rc == 0, f"client exited {res.rc}: {res.stderr[-300:]}")
    a.wait(timeout=30)
    out = probe.stop()
    spans = [s for s in out.spans if s.name in ("GET /a", "GET /delay")]
    by = {(s.name, s.kind, s.pid): s for s in spans}
    c = by.get(("GET /a", 3, res.pid))
    sa = by.get(("GET /a", 2, a.pid))
    ca = by.get(("GET /delay", 3, a.pid))
    sb = by.get(("GET /delay", 2, srv.pid))
    expect(None not in (c, sa, ca, sb), "want the client's, A's (both sides) and B's spans",
           spans)
    for child, parent, what in ((sa, c, "A's SERVER span under the client's call"),
                                (ca, sa, "A's call to B under A's SERVER span"),
                                (sb, ca, "B's SERVER span under A's call")):
        expect(child.trace_id == parent.trace_id and child.parent_id == parent.span_id,
               f"{what}: parent {child.parent_id or '-'}, want {parent.span_id}", [child, parent])
