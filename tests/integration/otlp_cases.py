# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""OTLP export tests: spanprobe sends its spans to the OTLP test receiver
(otlp_receiver/receiver.mjs, node), which decodes them with the protobuf code
generated from the official opentelemetry-proto schema (the npm package
@opentelemetry/otlp-transformer) and writes one JSON line per request. The
tests assert on what the receiver decoded, so a span only counts when a
real OTLP decoder that shares nothing with spanprobe could read it.

Registered in cases.CASES, so run.py runs them with the others."""
import os
import re
import signal
import socket
import time

from cases import CURL_UA, PY_ROOT, PY_EXE_NAME, case, curl, run_curl, traffic
from checks import check_client_process, check_resource, expect, no_problems, of_pid
from harness import PYTHON, READY, Fail, Probe, ProbeUnavailable, request, statuses
from otlp import KIND_INTERNAL, accepted, from_receiver

GRPC_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
DELIVERY_TIMEOUT = 15  # spans go out about once a second; generous for a loaded VM
EXIT_LINE = re.compile(
    r"spanprobe: OTLP: (?P<exported>\d+) spans exported, (?P<retried>\d+) requests retried, "
    r"(?P<dropped>\d+) spans dropped \(queue full or flush deadline\), "
    r"(?P<rejected>\d+) rejected by the backend, (?P<refused>\d+) in refused requests, "
    r"(?P<queued>\d+) still queued")
OWN_EXPORTS = re.compile(r"^spanprobe: debug: .*\b(\d+) own exports seen at a local backend\b")


# ---- helpers ----
def otlp_env(**extra):
    """spanprobe's environment: the runner's without any OTEL_* variable
    (so the host's settings never leak in), plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(extra)
    return env


def exports(reqs):
    """The export requests (POSTs the receiver decoded), in arrival order."""
    return [r for r in reqs if r.get("seq") is not None]


def span_ids(req):
    return {s["spanId"] for s in req.get("spans") or []}


def delivered(pid, *names):
    """A receiver predicate: accepted requests hold, for process pid, its
    process root span and a span with each name given."""
    def pred(reqs):
        spans = of_pid(from_receiver(reqs), pid)
        have = {s.name for s in spans}
        return (any(s.kind == KIND_INTERNAL and s.attrs.get("process.pid") == pid for s in spans)
                and all(n in have for n in names))
    return pred


def exit_counts(probe):
    """The numbers in spanprobe's exit line about OTLP (after it exited)."""
    lines = [line for line in probe.stderr_lines if line.startswith("spanprobe: OTLP:")]
    expect(lines, "spanprobe printed no 'spanprobe: OTLP: ...' line at exit")
    m = EXIT_LINE.match(lines[-1])
    expect(m, f"spanprobe's OTLP exit line does not read as the contract says: {lines[-1]!r}")
    return {k: int(v) for k, v in m.groupdict().items()}


def failed_export(probe, url, what):
    """Waits for spanprobe's stderr line about an export to url that failed
    and will be retried (printed for the first such failure)."""
    return probe.wait_stderr(rf"OTLP export to {re.escape(url)}\S* failed: .*\(will retry\)$",
                             what, DELIVERY_TIMEOUT)


def own_exports_seen(probe):
    """With -v: how many of its own exports spanprobe saw answered by a
    local backend, from the stats line it prints at exit."""
    found = [m for m in (OWN_EXPORTS.search(line) for line in probe.stderr_lines) if m]
    expect(found, "spanprobe -v printed no 'N own exports seen at a local backend' stats line")
    return int(found[-1].group(1))


def check_exports(reqs, path, content_type, **fields):
    """Every export request: POST to path with content_type, the given
    record fields (e.g. content_encoding="gzip") and no encoding problem."""
    reqs = exports(reqs)
    expect(reqs, "the receiver got no export request")
    for r in reqs:
        got = {"method": r["method"], "path": r["path"], "content_type": r["content_type"],
               **{k: r.get(k) for k in fields}}
        want = {"method": "POST", "path": path, "content_type": content_type, **fields}
        expect(got == want, f"export request {r['seq']}: {got}, want {want}")
        expect(not r["problems"], f"export request {r['seq']}: the receiver found encoding "
               f"problems: {r['problems'][:5]}")


def check_curl_spans(out, pid, srv, url, window, min_ms=0):
    """curl's process root span and its one CLIENT span, as the receiver
    decoded them, with the checks the file tests make: the CLIENT span's
    name, kind 3, http.response.status_code, server.port, url.full, timing,
    and its parent link to the root span in the same trace; the resource."""
    root, (span,) = check_client_process(
        out, pid, srv.https_port, window=window, root_name="curl",
        calls=[dict(path=path_of(url), status=200, url=url, min_ms=min_ms, ua=CURL_UA)])
    for s in (root, span):
        check_resource(s, pid, "curl", exe_name="curl")
    return root, span


def path_of(url):
    """/path of a URL, without the query."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]


def free_port():
    """A 127.0.0.1 port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_command(ctx, args, env):
    """spanprobe -- COMMAND: returns the Probe; the caller waits for it."""
    return Probe(ctx, args, env=env, output=False)


def finish_command(probe, timeout=60):
    rc = probe.wait(timeout)
    if not probe.ready.is_set():
        if rc > 0:
            raise ProbeUnavailable(f"spanprobe exited {rc} before ready: {probe.stderr[-300:]!r}")
        raise Fail(f"spanprobe exited {rc} without printing {READY!r}")
    return rc


def pid_client(ctx, requests):
    """A python client waiting on stdin, and spanprobe args tracing only it."""
    client = ctx.start_python(requests, wait=True)
    return client, ["-p", str(client.pid)]


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise Fail(f"no VmHWM in /proc/{pid}/status")


# ---- the three encodings ----
@case
def otlp_http_protobuf(ctx):
    """--otlp-endpoint and -o FILE together: OTLP/HTTP protobuf carries
    curl's spans with the full contract, and the file has the same spans."""
    srv = ctx.servers()
    rcv = ctx.receiver()
    probe = ctx.probe("--otlp-endpoint", rcv.url, env=otlp_env())
    url = srv.url("/delay?ms=100")
    window, res = traffic(ctx, lambda: run_curl(ctx, curl(url)))
    # delivered while spanprobe runs (batches go out about once a second)
    rcv.wait_for(delivered(res.pid, "GET /delay"), "curl's spans", DELIVERY_TIMEOUT)
    file_out = probe.stop()
    reqs = rcv.requests()
    check_exports(reqs, "/v1/traces", "application/x-protobuf")
    out = from_receiver(reqs)
    check_curl_spans(out, res.pid, srv, url, window, min_ms=100)
    scopes = {(s["scope"]["name"]) for r in exports(reqs) for s in r["spans"] or []}
    expect(scopes == {"spanprobe"}, f"scope names {scopes}, want only 'spanprobe'")

    # both sinks got the same spans
    no_problems(file_out)
    mine = {s.span_id: s for s in of_pid(out, res.pid)}
    in_file = {s.span_id: s for s in of_pid(file_out, res.pid)}
    expect(set(mine) == set(in_file), f"curl's span ids: OTLP {sorted(mine)}, -o file "
           f"{sorted(in_file)}", list(mine.values()) + list(in_file.values()))
    for sid, a in mine.items():
        b = in_file[sid]
        fields = ("trace_id", "parent_id", "name", "kind", "start", "end", "attrs",
                  "status_code", "status_message", "resource")
        diff = [f for f in fields if getattr(a, f) != getattr(b, f)]
        expect(not diff, f"span {sid} differs between OTLP and the -o file in {diff}", [a, b])


@case
def otlp_http_json_headers_gzip(ctx):
    """Everything from the environment (endpoint, http/json, gzip, headers
    with a percent-encoded value), --otlp-header overriding one header;
    `-- COMMAND` mode, no -o: spans go out at the command's end, the console
    tree is still printed and no default spans file is written."""
    srv = ctx.servers()
    rcv = ctx.receiver()
    url = srv.url("/delay?ms=50")
    env = otlp_env(OTEL_EXPORTER_OTLP_ENDPOINT=rcv.url, OTEL_EXPORTER_OTLP_PROTOCOL="http/json",
                   OTEL_EXPORTER_OTLP_COMPRESSION="gzip",
                   OTEL_EXPORTER_OTLP_HEADERS="x-tenant=a,x-other=b%20c")
    probe = start_command(ctx, ["--otlp-header", "x-tenant=override", "--", *curl(url)], env)
    window, rc = traffic(ctx, lambda: finish_command(probe))
    expect(rc == 0, f"spanprobe exited {rc}, want curl's status 0")
    reqs = rcv.requests()
    check_exports(reqs, "/v1/traces", "application/json", content_encoding="gzip")
    for r in exports(reqs):
        got = {k: r["headers"].get(k) for k in ("x-tenant", "x-other")}
        expect(got == {"x-tenant": "override", "x-other": "b c"},
               f"export request {r['seq']}: headers {got}, want x-tenant: override (the flag "
               f"wins), x-other: 'b c' (percent-decoded)")
    out = from_receiver(reqs)
    roots = [s for s in out.spans if s.kind == KIND_INTERNAL and s.name == "curl"]
    expect(len(roots) == 1, f"want one curl root span, got {len(roots)}", out.spans)
    check_curl_spans(out, roots[0].attrs.get("process.pid"), srv, url, window, min_ms=50)
    default_file = os.path.join(ctx.dir, "spanprobe-spans.jsonl")
    expect(not os.path.exists(default_file),
           "with OTLP on and no -o, spanprobe still wrote ./spanprobe-spans.jsonl")
    with open(probe.stdout_path, errors="replace") as f:
        console = f.read()
    expect("GET /delay" in console, f"no console trace tree on stdout: {console[-300:]!r}")


@case
def otlp_grpc(ctx):
    """--otlp-protocol grpc: h2c to the TraceService/Export method,
    uncompressed frames, curl's spans decode."""
    srv = ctx.servers()
    rcv = ctx.receiver("--grpc")
    probe = ctx.probe("--otlp-endpoint", rcv.url, "--otlp-protocol", "grpc", env=otlp_env())
    url = srv.url("/delay?ms=100")
    window, res = traffic(ctx, lambda: run_curl(ctx, curl(url)))
    rcv.wait_for(delivered(res.pid, "GET /delay"), "curl's spans", DELIVERY_TIMEOUT)
    probe.stop()
    reqs = rcv.requests()
    check_exports(reqs, GRPC_PATH, "application/grpc", protocol="grpc", grpc_compressed=0,
                  grpc_encoding=None)
    for r in exports(reqs):
        expect(r["headers"].get("te") == "trailers",
               f"export request {r['seq']}: te {r['headers'].get('te')!r}, want 'trailers'")
    check_curl_spans(from_receiver(reqs), res.pid, srv, url, window, min_ms=100)
    expect(exit_counts(probe)["retried"] == 0, "requests were retried though all succeeded")


@case
def otlp_grpc_gzip_unavailable(ctx):
    """gRPC from the environment with gzip: compressed frames (flag 1,
    grpc-encoding gzip); a first answer of grpc-status 14 (UNAVAILABLE) in
    the trailers is retried, and the spans are delivered once."""
    srv = ctx.servers()
    rcv = ctx.receiver("--grpc", "--script", "503")  # 503 -> grpc-status 14
    url = srv.url("/code/201")
    client, args = pid_client(ctx, [request(url)])
    probe = ctx.probe(*args, env=otlp_env(OTEL_EXPORTER_OTLP_ENDPOINT=rcv.url,
                                           OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
                                           OTEL_EXPORTER_OTLP_COMPRESSION="gzip"))
    window, res = traffic(ctx, lambda: ctx.finish(client, go=True))
    expect(statuses(res) == [201], f"client saw {statuses(res)}, want [201]")
    rcv.wait_for(delivered(res.pid, "GET /code/201"), "the client's spans", DELIVERY_TIMEOUT)
    probe.stop()
    reqs = rcv.requests()
    check_exports(reqs, GRPC_PATH, "application/grpc", protocol="grpc", grpc_compressed=1,
                  grpc_encoding="gzip")
    first = exports(reqs)[0]
    expect(first["grpc_status"] == 14, f"first request answered {first['grpc_status']}, want 14")
    out = from_receiver(reqs)
    check_client_process(out, res.pid, srv.https_port, window=window, root_name=PY_ROOT,
                         calls=[dict(path="/code/201", status=201, url=url)])
    retried = [r for r in exports(reqs)[1:] if span_ids(r) & span_ids(first)]
    expect(retried and accepted(retried[0]), "the spans refused with UNAVAILABLE were not sent "
           "again and accepted")
    expect(exit_counts(probe)["retried"] >= 1, "exit line: no request retried after UNAVAILABLE")


# ---- resource ----
@case
def otlp_resource_env(ctx):
    """spanprobe's OTEL_RESOURCE_ATTRIBUTES/OTEL_SERVICE_NAME apply to every
    traced process; a process's own values win. Also the traces-only
    variables: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as the full URL) and
    OTEL_EXPORTER_OTLP_TRACES_HEADERS."""
    srv = ctx.servers()
    rcv = ctx.receiver()
    env = otlp_env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{rcv.url}/custom/v1/traces",
                   OTEL_EXPORTER_OTLP_TRACES_HEADERS="x-traces-only=1",
                   OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,team=platform",
                   OTEL_SERVICE_NAME="sp-default")
    probe = ctx.probe(env=env)
    delay, code = srv.url("/delay?ms=200"), srv.url("/code/202")

    def both():
        py = ctx.run_python([request(delay)], env={"OTEL_SERVICE_NAME": "svc-x",
                                                   "OTEL_RESOURCE_ATTRIBUTES": "team=a"})
        return py, run_curl(ctx, curl(code))
    window, (py, cu) = traffic(ctx, both)
    expect(statuses(py) == [200], f"python client saw {statuses(py)}, want [200]")
    rcv.wait_for(lambda reqs: delivered(py.pid, "GET /delay")(reqs)
                 and delivered(cu.pid, "GET /code/202")(reqs), "both clients' spans",
                 DELIVERY_TIMEOUT)
    probe.stop()
    reqs = rcv.requests()
    check_exports(reqs, "/custom/v1/traces", "application/x-protobuf")
    for r in exports(reqs):
        expect(r["headers"].get("x-traces-only") == "1", f"export request {r['seq']}: "
               f"x-traces-only {r['headers'].get('x-traces-only')!r}, want '1' "
               f"(OTEL_EXPORTER_OTLP_TRACES_HEADERS)")
    out = from_receiver(reqs)
    check_client_process(out, py.pid, srv.https_port, window=window, root_name=PY_ROOT,
                         calls=[dict(path="/delay", status=200, url=delay, min_ms=200)])
    check_client_process(out, cu.pid, srv.https_port, window=window, root_name="curl",
                         calls=[dict(path="/code/202", status=202, url=code)])
    for pid, service, team, exe in ((py.pid, "svc-x", "a", PY_EXE_NAME),
                                    (cu.pid, "sp-default", "platform", "curl")):
        for s in of_pid(out, pid):
            check_resource(s, pid, service, exe_name=exe)
            got = {k: s.resource.get(k) for k in ("deployment.environment", "team")}
            expect(got == {"deployment.environment": "test", "team": team},
                   f"pid {pid}: resource {got}, want deployment.environment 'test' and team "
                   f"{team!r}", [s])


# ---- a backend that is away, refuses, or hangs ----
@case
def otlp_receiver_late(ctx):
    """The backend comes up ~2 s after spanprobe made its spans: connection
    errors are retried, and each span arrives exactly once."""
    srv = ctx.servers()
    port = free_port()
    first, second = srv.url("/code/200"), srv.url("/code/201")
    client, args = pid_client(ctx, [request(first), request(second)])
    probe = ctx.probe(*args, "--otlp-endpoint", f"http://127.0.0.1:{port}", env=otlp_env())
    window, res = traffic(ctx, lambda: ctx.finish(client, go=True))
    expect(statuses(res) == [200, 201], f"client saw {statuses(res)}, want [200, 201]")
    failed_export(probe, f"http://127.0.0.1:{port}", "a refused export attempt")
    rcv = ctx.receiver(port=port)
    rcv.wait_for(lambda reqs: len(of_pid(from_receiver(reqs), res.pid)) >= 3,
                 "the client's 3 spans", 20)
    # Its exit flush sends all spanprobe still holds, and the receiver logs
    # a request before it answers: once spanprobe is gone, a duplicate would
    # be in the log, and the exit line counts every span it had accepted.
    probe.stop()
    out = from_receiver(rcv.requests())  # problems: any span delivered twice
    check_client_process(out, res.pid, srv.https_port, window=window, root_name=PY_ROOT,
                         calls=[dict(path="/code/200", status=200, url=first),
                                dict(path="/code/201", status=201, url=second)])
    counts = exit_counts(probe)
    expect(counts["retried"] >= 1 and counts["dropped"] == 0
           and counts["exported"] == len(out.spans) >= 3,
           f"exit line counts {counts}: want retried >= 1, dropped 0, exported = the "
           f"{len(out.spans)} spans the receiver accepted (>= 3)")


@case
def otlp_retry_503(ctx):
    """503, 503, then 200: the spans go three times, are accepted once, and
    the exit line counts the retries and no drop."""
    srv = ctx.servers()
    rcv = ctx.receiver("--script", "503,503,200")
    url = srv.url("/code/200")
    client, args = pid_client(ctx, [request(url)])
    probe = ctx.probe(*args, "--otlp-endpoint", rcv.url, env=otlp_env())
    window, res = traffic(ctx, lambda: ctx.finish(client, go=True))
    expect(statuses(res) == [200], f"client saw {statuses(res)}, want [200]")
    rcv.wait_for(delivered(res.pid, "GET /code/200"), "the client's spans", DELIVERY_TIMEOUT)
    probe.stop()  # a duplicate, if any, goes out in the exit flush (otlp_receiver_late)
    reqs = exports(rcv.requests())
    out = from_receiver(reqs)  # problems: any span accepted twice
    _, (span,) = check_client_process(out, res.pid, srv.https_port, window=window,
                                      root_name=PY_ROOT,
                                      calls=[dict(path="/code/200", status=200, url=url)])
    carrying = [r for r in reqs if span.span_id in span_ids(r)]
    expect([r["status"] for r in carrying] == [503, 503, 200],
           f"requests carrying the CLIENT span were answered "
           f"{[r['status'] for r in carrying]}, want [503, 503, 200]")
    counts = exit_counts(probe)
    expect(counts["retried"] >= 2 and counts["dropped"] == 0 and counts["refused"] == 0
           and counts["exported"] == len(out.spans),
           f"exit line counts {counts}: want retried >= 2, dropped 0, refused 0, exported = "
           f"the {len(out.spans)} spans the receiver accepted")


@case
def otlp_permanent_400(ctx):
    """400 is permanent: one error line, no retry, the spans counted as
    refused."""
    srv = ctx.servers()
    rcv = ctx.receiver("--script", "400")
    url = srv.url("/code/200")
    client, args = pid_client(ctx, [request(url)])
    probe = ctx.probe(*args, "--otlp-endpoint", rcv.url, env=otlp_env())
    res = ctx.finish(client, go=True)
    expect(statuses(res) == [200], f"client saw {statuses(res)}, want [200]")
    rcv.wait_for(lambda reqs: exports(reqs), "a request", DELIVERY_TIMEOUT)
    # A retry would be counted as soon as the 400 is read, and a pending one
    # is sent at once by the exit flush: no need to wait for its backoff.
    probe.stop()
    reqs = exports(rcv.requests())
    first = reqs[0]
    expect(first["status"] == 400, f"first request answered {first['status']}, want 400")
    expect(span_ids(first), "the first request carried no spans")
    again = [r["seq"] for r in reqs[1:] if span_ids(r) & span_ids(first)]
    expect(not again, f"the spans refused with 400 were sent again in request(s) {again}")
    errors = [line for line in probe.stderr_lines
              if "error" in line and re.search(r"\b400\b", line)]  # not a port like :34005
    expect(len(errors) == 1, f"want one error line on stderr about the 400, got {errors}")
    counts = exit_counts(probe)
    expect(counts["refused"] == len(first["spans"]) and counts["retried"] == 0,
           f"exit line counts {counts}: want {len(first['spans'])} in refused requests "
           f"(the spans of the 400'd request), 0 retried")


QUEUE_SIZE = 5
HWM_LIMIT_KB = 200 * 1024  # a sanity bound: spanprobe idles at a few tens of MB


@case
def otlp_queue_overflow(ctx):
    """A healthy backend, more spans at once than --otlp-queue-size: the
    queue keeps the newest QUEUE_SIZE and drops (and counts) the oldest; it
    must not lose the lot. `-- COMMAND` mode, so all the spans reach the
    queue together, at the command's end."""
    srv = ctx.servers()
    rcv = ctx.receiver()
    n = QUEUE_SIZE  # requests: n CLIENT spans + the process span = one more than the queue
    cfg = ctx.config([request(srv.url(f"/code/200?i={i}")) for i in range(n)])
    probe = start_command(ctx, ["--otlp-endpoint", rcv.url, "--otlp-queue-size", str(QUEUE_SIZE),
                                "--", PYTHON, "client.py", cfg], otlp_env())
    rc = finish_command(probe)
    expect(rc == 0, f"spanprobe exited {rc}, want the client's status 0")
    counts = exit_counts(probe)
    out = from_receiver(rcv.requests())
    no_problems(out)
    got = [s for s in out.spans if s.resource.get("process.executable.name", "").startswith("python")]
    expect(counts["exported"] == QUEUE_SIZE and counts["dropped"] == n + 1 - QUEUE_SIZE
           and len(got) == QUEUE_SIZE,
           f"{n + 1} spans through a queue of {QUEUE_SIZE} to a healthy backend: exit line "
           f"{counts}, receiver got {len(got)} of the client's spans; want {QUEUE_SIZE} "
           f"exported (the newest), {n + 1 - QUEUE_SIZE} dropped", got)


@case
def otlp_never_answers(ctx):
    """A backend that accepts connections and never answers: requests time
    out, the queue stays at --otlp-queue-size, SIGTERM still ends spanprobe
    within the flush timeout, with the drops counted. The client's 21 spans
    trickle out (~3 a second, ?ms=300), so each batch fits the queue and it is
    the backend, not one oversized batch, that makes spanprobe drop them
    (that is otlp_queue_overflow)."""
    srv = ctx.servers()
    rcv = ctx.receiver("--hang")
    n = 20
    client, args = pid_client(ctx, [request(srv.url(f"/code/200?ms=300&i={i}")) for i in range(n)])
    probe = ctx.probe(*args, "--otlp-endpoint", rcv.url, "--otlp-timeout", "1000",
                      "--otlp-flush-timeout", "2000", "--otlp-queue-size", str(QUEUE_SIZE),
                      env=otlp_env())
    res = ctx.finish(client, go=True)
    expect(statuses(res) == [200] * n, f"client saw {statuses(res)}")
    rcv.wait_for(lambda reqs: exports(reqs), "a request", DELIVERY_TIMEOUT)
    failed_export(probe, rcv.url, "a request timed out (--otlp-timeout 1000)")
    rcv.wait_for(lambda reqs: len(exports(reqs)) >= 2, "the request again after its timeout",
                 DELIVERY_TIMEOUT)
    hwm = vm_hwm_kb(probe.proc.pid)
    sent = time.monotonic()
    probe.proc.send_signal(signal.SIGTERM)
    rc = probe.wait(10)
    took = time.monotonic() - sent
    expect(rc == 0, f"spanprobe exited {rc} after SIGTERM, want 0")
    expect(took < 10, f"spanprobe took {took:.1f} s to exit after SIGTERM")
    expect(hwm < HWM_LIMIT_KB, f"spanprobe's VmHWM reached {hwm} kB (limit {HWM_LIMIT_KB} kB)")
    counts = exit_counts(probe)
    expect(counts["dropped"] > 0 and counts["exported"] == 0,
           f"exit line counts {counts}: want spans dropped > 0 and none exported")
    for r in exports(rcv.requests()):
        got = len(r["spans"] or [])
        expect(got <= QUEUE_SIZE, f"request {r['seq']} carried {got} spans, more than the "
               f"queue's {QUEUE_SIZE}")


# ---- configuration errors ----
@case
def otlp_no_feedback_loop(ctx):
    """System-wide, with a plain-HTTP backend on this host: spanprobe traces
    the backend too, but not the backend's side of spanprobe's own exports.
    Exporting those would feed itself: a span per export, an export a
    second, forever."""
    srv = ctx.servers()
    rcv = ctx.receiver()
    probe = ctx.probe("-v", "--otlp-endpoint", rcv.url, env=otlp_env())
    res = run_curl(ctx, curl(srv.url("/code/200")))
    rcv.wait_for(delivered(res.pid, "GET /code/200"), "curl's spans", DELIVERY_TIMEOUT)
    # The receiver answered that export before this second curl started: by
    # the time curl's spans are delivered, spanprobe has seen the answer,
    # and a span of it would have gone out with them or before.
    marker = run_curl(ctx, curl(srv.url("/code/201")))
    rcv.wait_for(delivered(marker.pid, "GET /code/201"), "the second curl's spans",
                 DELIVERY_TIMEOUT)
    file_out = probe.stop()
    reqs = exports(rcv.requests())
    own = [sp for r in reqs for sp in r["spans"] or [] if sp["name"] == "POST /v1/traces"]
    expect(not own, f"{len(own)} spans of the receiver answering spanprobe's own exports "
           f"were exported (in {len(reqs)} requests)")
    in_file = [s for s in file_out.spans if s.name == "POST /v1/traces"]
    expect(not in_file, f"{len(in_file)} spans of the receiver answering spanprobe's own "
           f"exports were written to the -o file", in_file)
    seen = own_exports_seen(probe)
    expect(seen >= 1, "spanprobe saw none of its own exports answered by the receiver, so "
           "this test did not exercise the loop it is about")


@case
def otlp_retry_after(ctx):
    """503 with Retry-After: 2: the retry waits the 2 s the backend asked for
    (spanprobe's own first backoff would be 0.25 to 0.75 s)."""
    srv = ctx.servers()
    rcv = ctx.receiver("--script", "503", "--retry-after", "2")
    probe = ctx.probe("--otlp-endpoint", rcv.url, env=otlp_env())
    res = run_curl(ctx, curl(srv.url("/code/200")))
    reqs = rcv.wait_for(delivered(res.pid, "GET /code/200"), "curl's spans", DELIVERY_TIMEOUT)
    probe.stop()
    ex = exports(reqs)
    expect(len(ex) >= 2 and ex[0]["status"] == 503, f"want a 503 then a retry, got "
           f"{[r['status'] for r in ex]}")
    gap = ex[1]["time_ms"] - ex[0]["time_ms"]
    expect(gap >= 1900, f"the retry came {gap} ms after the 503, want >= 2000 (Retry-After: 2)")


@case
def otlp_partial_success(ctx):
    """A 200 whose partial_success rejects spans: spanprobe says so on
    stderr and counts them as rejected, without retrying."""
    srv = ctx.servers()
    rcv = ctx.receiver("--partial", "1")
    probe = ctx.probe("--otlp-endpoint", rcv.url, env=otlp_env())
    res = run_curl(ctx, curl(srv.url("/code/200")))
    rcv.wait_for(delivered(res.pid, "GET /code/200"), "curl's spans", DELIVERY_TIMEOUT)
    probe.stop()
    counts = exit_counts(probe)
    n = len(exports(rcv.requests()))
    warned = [line for line in probe.stderr_lines if "rejected 1 of" in line]
    expect(warned, "no stderr line about the rejected span: "
           f"{probe.stderr_lines[-5:]}")
    expect(counts["rejected"] == n and counts["retried"] == 0,
           f"exit line {counts}; want {n} rejected (one per request) and no retry")


@case
def otlp_bad_config(ctx):
    """A bad OTLP setting fails fast: non-zero exit, one stderr line naming
    the variable or flag, no tracing."""
    out = os.path.join(ctx.dir, "out.jsonl")
    on = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}  # export on, nothing there
    attempts = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", [], dict(on, OTEL_EXPORTER_OTLP_PROTOCOL="bogus")),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", [], dict(on, OTEL_EXPORTER_OTLP_TIMEOUT="abc")),
        ("OTEL_EXPORTER_OTLP_HEADERS", [], dict(on, OTEL_EXPORTER_OTLP_HEADERS="novalue")),
        ("--otlp-endpoint", ["--otlp-endpoint", "ftp://x"], {}),
        ("--otlp-protocol", ["--otlp-protocol", "bogus"], on),
        ("--otlp-header", ["--otlp-header", "novalue"], on),
    ]
    for name, args, extra in attempts:
        argv = [ctx.suite.binary, "-o", out, "--duration", "3", *args]
        what = f"{' '.join(f'{k}={v}' for k, v in extra.items())} {' '.join(args)}".strip()
        rc, err = ctx.run_to_end(argv, 30, f"{what}: spanprobe", env=otlp_env(**extra))
        lines = err.strip().splitlines()
        expect(rc > 0, f"{what}: exit status {rc}, want non-zero "
               f"(stderr {err!r})")
        expect(READY not in err, f"{what}: spanprobe got ready: {err!r}")
        expect(len(lines) == 1 and name in lines[0],
               f"{what}: want one stderr line naming {name}, got {err!r}")
