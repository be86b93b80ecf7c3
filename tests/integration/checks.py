# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Span selection and assertions shared by the tests.

Spans are always picked by the pid of the process that produced them and by
the test server's port, so that whatever else the host does while the probe
runs system-wide never matters.
"""
import os
import re
import socket
import time

from harness import Fail
from otlp import KIND_CLIENT, KIND_INTERNAL, KIND_SERVER, STATUS_ERROR

TIME_SLACK_NS = 2_000_000_000  # wall clock vs. converted monotonic time
DURATION_SLACK_MS = 2700  # loaded 2-core CI: keep upper bounds generous
NEST_SLACK_NS = 2_000_000  # child/parent timestamps come from different hooks


def expect(cond, message, spans=()):
    if not cond:
        raise Fail(message, spans)


def no_problems(output):
    """Every line of the file must be valid OTLP JSON, whatever it is about."""
    expect(not output.problems,
           f"{len(output.problems)} OTLP encoding problem(s): " + "; ".join(output.problems[:5]))


class Window:
    """Wall-clock interval in which a test's traffic happened."""

    def __init__(self):
        self.start = time.time_ns()
        self.end = None

    def close(self):
        self.end = time.time_ns()

    def check(self, span):
        end = self.end or time.time_ns()
        expect(self.start - TIME_SLACK_NS <= span.start and span.end <= end + TIME_SLACK_NS,
               f"span {span.name!r} [{span.start}, {span.end}] lies outside the test's "
               f"wall-clock window [{self.start}, {end}] (timestamp conversion?)", [span])


# ---- selection ----
def of_pid(output, pid):
    return [s for s in output.spans if s.pid == pid]


def http_spans(output, pid, kind, port):
    """HTTP spans of one kind that process pid made to or received on port."""
    return [s for s in of_pid(output, pid)
            if s.kind == kind and s.attrs.get("server.port") == port]


def spans_about_port(output, port):
    """Every HTTP span naming port, whichever process made it (for evidence)."""
    return [s for s in output.spans if s.attrs.get("server.port") == port]


def process_roots(output, pid):
    return [s for s in output.spans
            if s.kind == KIND_INTERNAL and s.attrs.get("process.pid") == pid]


def process_root(output, pid):
    """The one root span of process pid."""
    roots = process_roots(output, pid)
    expect(len(roots) == 1, f"want exactly one process root span for pid {pid}, "
           f"got {len(roots)}", roots or of_pid(output, pid)[:20])
    return roots[0]


def only(spans, what, evidence=()):
    expect(len(spans) == 1, f"want exactly one {what}, got {len(spans)}", spans or evidence)
    return spans[0]


def by_path(spans, path):
    return [s for s in spans if s.attrs.get("url.path") == path]


# ---- assertions ----
def check_root(root, pid, exe=None, exit_code=None, name=None):
    """The process root span: INTERNAL, named after the program, with the
    process.* attributes the contract lists."""
    a = root.attrs
    expect(root.kind == KIND_INTERNAL, "process root span is not INTERNAL", [root])
    expect(a.get("process.pid") == pid, f"root process.pid {a.get('process.pid')!r} != {pid}", [root])
    expect(isinstance(a.get("process.command_line"), str) and a["process.command_line"],
           "root span lacks process.command_line", [root])
    path = a.get("process.executable.path")
    expect(isinstance(path, str) and path.startswith("/"),
           f"process.executable.path {path!r} is not an absolute path", [root])
    if exe is not None:
        # /usr/bin/python3 is a symlink to python3.11: accept the link or its target.
        expect(os.path.realpath(path) == os.path.realpath(exe),
               f"process.executable.path {path!r} is not {exe}", [root])
    if exit_code is not None:
        expect(a.get("process.exit.code") == exit_code,
               f"process.exit.code {a.get('process.exit.code')!r} != {exit_code}", [root])
    if name is not None:
        expect(re.fullmatch(name, root.name), f"root span name {root.name!r} !~ {name!r}", [root])


def check_trace_root(root, output=None):
    """Processes the runner starts have no traced parent (the runner makes
    no HTTP calls, so it has no open span): each one starts its own trace.
    But curl and the like make their model calls for the process that ran
    them: then the runner is the agent (README "Agents"), and every process
    it starts from then on hangs under its invoke_agent root."""
    if root.parent_id and output is not None:
        by_id = {s.span_id: s for s in output.spans}
        chain, up = [root], by_id.get(root.parent_id)
        # a tool window the model opened on the runner's behalf may lie
        # between (a response that asked for a tool the runner never ran)
        while up is not None and up.attrs.get("gen_ai.operation.name") == "execute_tool":
            chain.append(up)
            up = by_id.get(up.parent_id)
        expect(up is not None and up.parent_id == ""
               and up.name.startswith("invoke_agent ")
               and up.attrs.get("process.pid") == os.getpid(),
               f"{root.name!r} should start its own trace or be under the runner's "
               f"invoke_agent root span (pid {os.getpid()}), but has parent "
               f"{root.parent_id}", chain + ([up] if up else []))
        return
    expect(root.parent_id == "", f"{root.name!r} should start its own trace but has "
           f"parent {root.parent_id}", [root])


def check_child(child, parent):
    """child hangs off parent in the same trace and lies within it in time."""
    expect(child.trace_id == parent.trace_id and child.parent_id == parent.span_id,
           f"{child.name!r} is not a child of {parent.name!r} "
           f"(trace {child.trace_id} parent {child.parent_id or '-'}; "
           f"want trace {parent.trace_id} parent {parent.span_id})", [child, parent])
    expect(parent.start - NEST_SLACK_NS <= child.start and child.end <= parent.end + NEST_SLACK_NS,
           f"{child.name!r} is not within its parent {parent.name!r} in time", [child, parent])


def check_http(span, *, kind, method, path, status, port, url=None, min_ms=0,
               user_agent=None, max_ms=None):
    """One HTTP span against the contract: name, attributes, status, timing."""
    a = span.attrs
    ev = [span]
    expect(span.kind == kind, f"{span.name!r}: kind {span.kind} != {kind}", ev)
    expect(span.name == f"{method} {path}", f"span name {span.name!r} != {method + ' ' + path!r}", ev)
    expect(a.get("http.request.method") == method, f"http.request.method {a.get('http.request.method')!r} != {method!r}", ev)
    expect(a.get("url.path") == path, f"url.path {a.get('url.path')!r} != {path!r}", ev)
    expect(a.get("http.response.status_code") == status,
           f"http.response.status_code {a.get('http.response.status_code')!r} != {status}", ev)
    expect(a.get("server.port") == port, f"server.port {a.get('server.port')!r} != {port}", ev)
    expect(a.get("server.address") == "127.0.0.1", f"server.address {a.get('server.address')!r} != '127.0.0.1'", ev)
    expect(a.get("network.protocol.version") == "1.1",
           f"network.protocol.version {a.get('network.protocol.version')!r} != '1.1'", ev)
    if url is not None:
        expect(a.get("url.full") == url, f"url.full {a.get('url.full')!r} != {url!r}", ev)
    if user_agent is not None:
        ua = a.get("user_agent.original")
        expect(isinstance(ua, str) and re.fullmatch(user_agent, ua),
               f"user_agent.original {ua!r} !~ {user_agent!r}", ev)
    check_error_status(span, status)
    limit = max_ms if max_ms is not None else min_ms + DURATION_SLACK_MS
    expect(min_ms <= span.duration_ms < limit,
           f"{span.name!r} lasted {span.duration_ms:.1f} ms, want [{min_ms}, {limit}) ms", ev)


def check_error_status(span, status):
    """5xx is an error on both sides, 4xx only on the client side."""
    is_error = status >= 500 or (status >= 400 and span.kind == KIND_CLIENT)
    ev = [span]
    if is_error:
        expect(span.status_code == STATUS_ERROR, f"{span.name!r} ({status}): status.code "
               f"{span.status_code} != 2 (ERROR)", ev)
        expect(span.attrs.get("error.type") == str(status),
               f"{span.name!r}: error.type {span.attrs.get('error.type')!r} != {str(status)!r}", ev)
    else:
        expect(span.status_code != STATUS_ERROR, f"{span.name!r} ({status}) is marked ERROR", ev)
        expect("error.type" not in span.attrs, f"{span.name!r} ({status}) has error.type", ev)


def check_resource(span, pid, service, exe_name=None):
    r = span.resource
    ev = [span]
    expect(r.get("process.pid") == pid, f"resource process.pid {r.get('process.pid')!r} != {pid}", ev)
    expect(r.get("service.name") == service, f"resource service.name {r.get('service.name')!r} != {service!r}", ev)
    if exe_name is not None:
        expect(re.fullmatch(exe_name, str(r.get("process.executable.name"))),
               f"resource process.executable.name {r.get('process.executable.name')!r} !~ {exe_name!r}", ev)
    expect(r.get("host.name") == socket.gethostname(),
           f"resource host.name {r.get('host.name')!r} != {socket.gethostname()!r}", ev)
    expect(r.get("telemetry.sdk.name") == "spanprobe",
           f"resource telemetry.sdk.name {r.get('telemetry.sdk.name')!r} != 'spanprobe'", ev)
    expect(isinstance(r.get("telemetry.sdk.version"), str) and r["telemetry.sdk.version"],
           "resource telemetry.sdk.version missing", ev)


def client_call(output, pid, port, path, method="GET"):
    """The one CLIENT span process pid made for method+path on port."""
    spans = [s for s in by_path(http_spans(output, pid, KIND_CLIENT, port), path)
             if s.attrs.get("http.request.method") == method]
    return only(spans, f"CLIENT span {method} {path} from pid {pid} to port {port}",
                of_pid(output, pid) or spans_about_port(output, port))


def server_call(output, pid, port, path, method="GET"):
    """The one SERVER span process pid (the test server) made for method+path."""
    spans = [s for s in by_path(http_spans(output, pid, KIND_SERVER, port), path)
             if s.attrs.get("http.request.method") == method]
    return only(spans, f"SERVER span {method} {path} from server pid {pid} on port {port}",
                of_pid(output, pid)[:20] or spans_about_port(output, port))


def check_client_process(output, pid, port, calls, window, root_name=None, exe=None):
    """The common shape of every client test: one process root span and,
    under it, exactly the listed calls (method, path, status, url, min_ms, ua).
    Returns (root, [spans])."""
    no_problems(output)
    root = process_root(output, pid)
    check_root(root, pid, exe=exe, exit_code=0, name=root_name)
    check_trace_root(root)
    found = []
    for call in calls:
        span = client_call(output, pid, port, call["path"], call.get("method", "GET"))
        check_http(span, kind=KIND_CLIENT, method=call.get("method", "GET"), path=call["path"],
                   status=call["status"], port=port, url=call.get("url"),
                   min_ms=call.get("min_ms", 0), user_agent=call.get("ua"))
        check_child(span, root)
        window.check(span)
        found.append(span)
    ours = http_spans(output, pid, KIND_CLIENT, port)
    expect(len(ours) == len(calls), f"pid {pid} has {len(ours)} CLIENT spans to port {port}, "
           f"want {len(calls)}", ours)
    return root, found
