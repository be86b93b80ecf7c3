# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The integration tests. Each one starts its own servers and spanprobe,
drives real client programs (curl, /usr/bin/python3, node) against the
servers, stops the probe and checks the OTLP output it wrote."""
import os
import shutil
import signal
import stat
import subprocess

from checks import (Window, check_child, check_client_process, check_http,
                    check_resource, check_root, check_trace_root, client_call, expect, http_spans,
                    no_problems, of_pid, process_root, server_call)
from harness import PYTHON, READY, Fail, Probe, ProbeUnavailable, request, statuses
from otlp import KIND_CLIENT, KIND_INTERNAL, KIND_SERVER

CASES = {}

CURL_UA = r"curl/\d+\.\d+\.\d+"
PY_ROOT = r"python3(\.\d+)? client\.py"
PY_EXE_NAME = r"python3(\.\d+)?"


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def curl(*urls, plain=False, headers=()):
    """A curl command line; -k because the test cert is self-signed."""
    argv = ["curl", "-s" if plain else "-sk", "-o", "/dev/null"]
    for h in headers:
        argv += ["-H", h]
    for i, url in enumerate(urls):
        # one -o per URL, or curl prints later bodies to stdout
        argv += (["-o", "/dev/null"] if i else []) + [url]
    return argv


def run_curl(ctx, argv):
    res = ctx.run(argv)
    expect(res.rc == 0, f"curl exited {res.rc}: {res.stderr.strip()}")
    return res


def traffic(ctx, action):
    """Runs action() while the probe is up, timing it in wall-clock time."""
    window = Window()
    result = action()
    window.close()
    return window, result


# ---- one client, one HTTPS server ----
@case
def curl_https(ctx):
    srv = ctx.servers()
    probe = ctx.probe()
    url = srv.url("/delay?ms=300")
    window, res = traffic(ctx, lambda: run_curl(ctx, curl(url)))
    out = probe.stop()
    root, (span,) = check_client_process(
        out, res.pid, srv.https_port, window=window, root_name="curl", exe=shutil.which("curl"),
        calls=[dict(path="/delay", status=200, url=url, min_ms=300, ua=CURL_UA)])
    for s in (root, span):
        check_resource(s, res.pid, "curl", exe_name="curl")


@case
def wget_https(ctx):
    """wget over GnuTLS (gnutls_record_send2/recv): the same span as curl's
    over OpenSSL, from the plaintext GnuTLS handles."""
    srv = ctx.servers()
    probe = ctx.probe()
    url = srv.url("/delay?ms=200")
    wget = shutil.which("wget")
    if not wget:
        raise Fail("wget is not installed (apt-get install wget)")
    window, res = traffic(ctx, lambda: ctx.run([wget, "-q", "-O", "-", "--no-check-certificate",
                                                "-U", "spanprobe-wget-test/1", url]))
    expect(res.rc == 0, f"wget exited {res.rc}: {res.stderr[-300:]}")
    out = probe.stop()
    root, (span,) = check_client_process(
        out, res.pid, srv.https_port, window=window, root_name="wget", exe=wget,
        calls=[dict(path="/delay", status=200, url=url, min_ms=200,
                    ua=r"spanprobe-wget-test/1")])
    check_resource(span, res.pid, "wget", exe_name="wget")


@case
def python_https(ctx):
    """urllib over the system libssl (SSL_write_ex/SSL_read_ex); the service
    name comes from the client's own OTEL_SERVICE_NAME."""
    srv = ctx.servers()
    probe = ctx.probe()
    delay, echo = srv.url("/delay?ms=300"), srv.url("/echo")
    window, res = traffic(ctx, lambda: ctx.run_python(
        [request(delay), request(echo, "POST", body="ping " * 200)],
        env={"OTEL_SERVICE_NAME": "py-checkout"}))
    expect(statuses(res) == [200, 200], f"client saw {statuses(res)}, want [200, 200]")
    out = probe.stop()
    ua = r"Python-urllib/3\.\d+"
    root, spans = check_client_process(
        out, res.pid, srv.https_port, window=window, root_name=PY_ROOT, exe=PYTHON,
        calls=[dict(path="/delay", status=200, url=delay, min_ms=300, ua=ua),
               dict(path="/echo", method="POST", status=200, url=echo, ua=ua)])
    for s in (root, *spans):
        check_resource(s, res.pid, "py-checkout", exe_name=PY_EXE_NAME)


@case
def node_https(ctx):
    """node links OpenSSL statically: the probe must hook /usr/bin/node.
    Stopped with SIGTERM, the other signal the contract names."""
    srv = ctx.servers()
    probe = ctx.probe()
    url = srv.url("/delay?ms=300")
    window, res = traffic(ctx, lambda: ctx.run_node(
        [request(url, headers={"User-Agent": "spanprobe-node-test/1"})]))
    expect(statuses(res) == [200], f"client saw {statuses(res)}, want [200]")
    out = probe.stop(signal.SIGTERM)
    root, (span,) = check_client_process(
        out, res.pid, srv.https_port, window=window, root_name=r"node client\.js", exe="/usr/bin/node",
        calls=[dict(path="/delay", status=200, url=url, min_ms=300, ua=r"spanprobe-node-test/1")])
    check_resource(span, res.pid, "node", exe_name="node")


# ---- both sides of plain HTTP ----
def check_server_side(out, srv, port, path, status, min_ms=0, ua=None):
    """The test server's SERVER span for path, under the server's root span."""
    span = server_call(out, srv.pid, port, path)
    check_http(span, kind=KIND_SERVER, method="GET", path=path, status=status,
               port=port, min_ms=min_ms, user_agent=ua)
    root = process_root(out, srv.pid)
    check_root(root, srv.pid, exe=PYTHON)
    check_trace_root(root)
    # the client is traced too, on this host: the SERVER span hangs under
    # the CLIENT span that called it (README "Span trees", local links)
    callers = [s for s in out.spans if s.span_id == span.parent_id and s.kind == KIND_CLIENT]
    if callers:
        c = callers[0]
        expect(c.trace_id == span.trace_id and c.attrs.get("url.path") == path
               and c.start - 2_000_000 <= span.start and span.end <= c.end + 2_000_000,
               f"{span.name!r} hangs under a CLIENT span that did not call it", [span, c])
    else:
        check_child(span, root)
    return span


@case
def plain_http(ctx):
    srv = ctx.servers()
    probe = ctx.probe()
    url = srv.url("/delay?ms=300", tls=False)
    window, res = traffic(ctx, lambda: run_curl(ctx, curl(url, plain=True)))
    out = probe.stop()
    check_client_process(out, res.pid, srv.http_port, window=window, root_name="curl",
                         calls=[dict(path="/delay", status=200, url=url, min_ms=300, ua=CURL_UA)])
    span = check_server_side(out, srv, srv.http_port, "/delay", 200, min_ms=300, ua=CURL_UA)
    window.check(span)


@case
def chunked_keepalive(ctx):
    """Two requests on one plain connection, the first answered chunked with
    gaps: the span must end at the last chunk, and the second request must
    not be merged into it."""
    srv = ctx.servers()
    probe = ctx.probe()
    chunked = srv.url("/chunked?n=4&gap=100", tls=False)
    delay = srv.url("/delay?ms=50", tls=False)
    window, res = traffic(ctx, lambda: run_curl(ctx, curl(chunked, delay, plain=True)))
    out = probe.stop()
    _, (c, d) = check_client_process(
        out, res.pid, srv.http_port, window=window,
        calls=[dict(path="/chunked", status=200, url=chunked, min_ms=300),
               dict(path="/delay", status=200, url=delay, min_ms=50)])
    expect(c.end <= d.start, "the keep-alive requests' spans overlap", [c, d])
    check_server_side(out, srv, srv.http_port, "/chunked", 200, min_ms=300)
    check_server_side(out, srv, srv.http_port, "/delay", 200, min_ms=50)


@case
def error_status(ctx):
    """5xx is an error on both sides; 4xx only on the client side."""
    srv = ctx.servers()
    probe = ctx.probe()
    e500, e404 = srv.url("/status/500"), srv.url("/code/404")
    window, res = traffic(ctx, lambda: run_curl(ctx, curl(e500, e404)))
    out = probe.stop()
    check_client_process(out, res.pid, srv.https_port, window=window,
                         calls=[dict(path="/status/500", status=500, url=e500),
                                dict(path="/code/404", status=404, url=e404)])
    check_server_side(out, srv, srv.https_port, "/status/500", 500)
    check_server_side(out, srv, srv.https_port, "/code/404", 404)


# ---- which processes are traced ----
@case
def preexisting_client(ctx):
    """A process that loaded libssl before the probe attached is still seen."""
    srv = ctx.servers()
    delay, code = srv.url("/delay?ms=300"), srv.url("/code/201")
    client = ctx.start_python([request(delay), request(code)], wait=True)
    probe = ctx.probe()
    window, res = traffic(ctx, lambda: ctx.finish(client, go=True))
    expect(statuses(res) == [200, 201], f"client saw {statuses(res)}, want [200, 201]")
    out = probe.stop()
    check_client_process(out, res.pid, srv.https_port, window=window, root_name=PY_ROOT,
                         calls=[dict(path="/delay", status=200, url=delay, min_ms=300),
                                dict(path="/code/201", status=201, url=code)])


@case
def short_lived(ctx):
    """Fast clients exit before userspace may have looked at them: their
    root spans must still carry the real executable and command line (from
    the exec event, not a /proc lookup that finds the process gone)."""
    srv = ctx.servers()
    probe = ctx.probe()
    runs = []
    window = Window()
    for i in range(6):
        tls = i % 2 == 1
        url = srv.url(f"/code/200?i={i}", tls=tls)
        runs.append((run_curl(ctx, curl(url, plain=not tls)), url, tls))
    window.close()
    out = probe.stop()
    for res, url, tls in runs:
        port = srv.https_port if tls else srv.http_port
        root, _ = check_client_process(out, res.pid, port, window=window, root_name="curl",
                                       exe=shutil.which("curl"),
                                       calls=[dict(path="/code/200", status=200, url=url)])
        cmdline = root.attrs.get("process.command_line")
        expect(url in cmdline, f"process.command_line {cmdline!r} lacks the URL {url!r}", [root])


CONCURRENT_CODES = [200, 201, 202, 203, 206, 207, 208, 226]
REQUESTS_EACH = 5


@case
def concurrent_clients(ctx):
    """8 processes at once, each with its own keep-alive connection and its
    own status code: any cross-talk between connections shows up as a span
    whose path and status disagree, or as a wrong count."""
    srv = ctx.servers()
    probe = ctx.probe()
    clients = {}
    for code in CONCURRENT_CODES:
        # ?ms=20 keeps requests in flight long enough to interleave
        reqs = [request(srv.url(f"/code/{code}?ms=20"))] * REQUESTS_EACH
        clients[code] = ctx.start_python(reqs, mode="keepalive", wait=True)

    def go():
        for proc in clients.values():
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        return {code: ctx.finish(proc) for code, proc in clients.items()}
    window, results = traffic(ctx, go)
    for code, res in results.items():
        expect(statuses(res) == [code] * REQUESTS_EACH, f"client {code} saw {statuses(res)}")
    out = probe.stop()
    no_problems(out)
    for code, res in results.items():
        path = f"/code/{code}"
        root = process_root(out, res.pid)
        check_root(root, res.pid, exe=PYTHON, exit_code=0, name=PY_ROOT)
        check_trace_root(root)
        spans = http_spans(out, res.pid, KIND_CLIENT, srv.https_port)
        expect(len(spans) == REQUESTS_EACH,
               f"client {code} (pid {res.pid}) has {len(spans)} CLIENT spans, want {REQUESTS_EACH}",
               spans or of_pid(out, res.pid))
        for span in spans:
            check_http(span, kind=KIND_CLIENT, method="GET", path=path, status=code,
                       port=srv.https_port, url=srv.url(f"{path}?ms=20"), min_ms=20)
            check_child(span, root)
            window.check(span)
    server = [s for s in http_spans(out, srv.pid, KIND_SERVER, srv.https_port)
              if str(s.attrs.get("url.path")).startswith("/code/")]
    expect(len(server) == len(CONCURRENT_CODES) * REQUESTS_EACH,
           f"server has {len(server)} SERVER spans, want {len(CONCURRENT_CODES) * REQUESTS_EACH}",
           server)
    for span in server:
        path = str(span.attrs["url.path"])
        expect(path[len("/code/"):].isdigit(), f"server span url.path {path!r} is mangled", [span])
        code = int(path[len("/code/"):])
        check_http(span, kind=KIND_SERVER, method="GET", path=f"/code/{code}", status=code,
                   port=srv.https_port, min_ms=20)


def single_root(out, what, pred):
    roots = [s for s in out.spans if s.kind == KIND_INTERNAL and pred(s)]
    expect(len(roots) == 1, f"want one root span for {what}, got {len(roots)}",
           roots or [s for s in out.spans if s.kind == KIND_INTERNAL])
    return roots[0]


def exe_base(span):
    return os.path.basename(str(span.attrs.get("process.executable.path")))


@case
def command_mode(ctx):
    """`-- CMD`: the command's exit status is spanprobe's, and the process
    tree becomes one trace: sh -> {curl, python3} -> their HTTP calls."""
    srv = ctx.servers()
    delay, code = srv.url("/delay?ms=100"), srv.url("/code/201")
    cfg = ctx.config([request(code)])
    script = f"curl -sk -o /dev/null '{delay}'; {PYTHON} client.py {cfg}; exit 3"
    probe = Probe(ctx, ["--", "sh", "-c", script])
    window, rc = traffic(ctx, lambda: probe.wait(90))
    if not probe.ready.is_set():
        if rc > 0 and rc != 3:
            raise ProbeUnavailable(f"spanprobe exited {rc} before ready: {probe.stderr[-300:]!r}")
        raise Fail(f"spanprobe exited {rc} without printing {READY!r}")
    expect(rc == 3, f"spanprobe exited {rc}, want the command's status 3")
    out = probe.output()
    no_problems(out)

    sh = single_root(out, "sh", lambda s: exe_base(s) in ("sh", "dash"))
    check_root(sh, sh.attrs.get("process.pid"), exit_code=3)
    expect(sh.parent_id == "", "the command's root span has a parent", [sh])
    curl_root = single_root(out, "curl", lambda s: exe_base(s) == "curl")
    py_root = single_root(out, "python3", lambda s: os.path.realpath(
        str(s.attrs.get("process.executable.path"))) == os.path.realpath(PYTHON))
    for root, path, status, url, min_ms in ((curl_root, "/delay", 200, delay, 100),
                                            (py_root, "/code/201", 201, code, 0)):
        pid = root.attrs.get("process.pid")
        check_root(root, pid, exit_code=0)
        check_child(root, sh)
        span = client_call(out, pid, srv.https_port, path)
        check_http(span, kind=KIND_CLIENT, method="GET", path=path, status=status,
                   port=srv.https_port, url=url, min_ms=min_ms)
        check_child(span, root)
        window.check(span)
    strays = [s for s in out.spans if s.trace_id != sh.trace_id]
    expect(not strays, "spans outside the command's trace (untraced processes?)", strays[:20])
    expect(not of_pid(out, srv.pid), "the server, not a descendant, was traced", of_pid(out, srv.pid)[:10])


@case
def pid_mode(ctx):
    """`-p PID` traces that process only: a concurrent curl is not seen."""
    srv = ctx.servers()
    delay = srv.url("/delay?ms=300")
    client = ctx.start_python([request(delay)], wait=True)
    probe = ctx.probe("-p", str(client.pid))

    def both():
        other = ctx.spawn(curl(srv.url("/code/202")), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
        res = ctx.finish(client, go=True)
        return res, ctx.finish(other)
    window, (res, other) = traffic(ctx, both)
    expect(statuses(res) == [200], f"client saw {statuses(res)}, want [200]")
    expect(other.rc == 0, f"the concurrent curl exited {other.rc}")
    out = probe.stop()
    check_client_process(out, res.pid, srv.https_port, window=window, root_name=PY_ROOT,
                         calls=[dict(path="/delay", status=200, url=delay, min_ms=300)])
    strays = [s for s in out.spans if s.pid != res.pid]
    expect(not strays, f"spans from processes other than pid {res.pid} "
           f"(curl was {other.pid}, server {srv.pid})", strays[:20])


# ---- output hygiene ----
@case
def redaction(ctx):
    """Secrets in query strings and headers never reach the output file,
    which only root may read."""
    srv = ctx.servers()
    probe = ctx.probe()
    first = srv.url("/delay?ms=1&api_key=sekrit&x=1")
    second = srv.url("/code/200?token=sekrit&sig=sekrit&y=2")
    window, res = traffic(ctx, lambda: run_curl(
        ctx, curl(first, second, headers=["Authorization: Bearer sekrit"])))
    out = probe.stop()
    _, (a, b) = check_client_process(out, res.pid, srv.https_port, window=window,
                                     calls=[dict(path="/delay", status=200, min_ms=1),
                                            dict(path="/code/200", status=200)])
    leaks = [s for s in out.spans if "sekrit" in repr(s.attrs) or "sekrit" in repr(s.resource)
             or "sekrit" in s.name or "sekrit" in s.status_message]
    expect("sekrit" not in out.text,
           f"'sekrit' appears {out.text.count('sekrit')} time(s) in the output", leaks[:10])
    for span, want in ((a, ["api_key=REDACTED", "x=1"]),
                       (b, ["token=REDACTED", "sig=REDACTED", "y=2"])):
        full = str(span.attrs.get("url.full"))
        expect(all(w in full for w in want), f"url.full {full!r} lacks one of {want}", [span])
    mode = stat.S_IMODE(os.stat(probe.out).st_mode)
    expect(mode == 0o600, f"output file mode is {mode:o}, want 600")


@case
def bad_args(ctx):
    """Usage errors fail fast, with a short message and no tracing."""
    def attempt(args):
        return ctx.run_to_end([ctx.suite.binary, *args], 30, f"spanprobe {' '.join(args)}")

    out = os.path.join(ctx.dir, "out.jsonl")
    rc, err = attempt(["--no-such-flag", "-o", out])
    lines = err.strip().splitlines()
    expect(rc > 0, f"unknown flag: exit status {rc}, want non-zero (stderr {err!r})")
    expect(len(lines) == 1 and "no-such-flag" in lines[0],
           f"unknown flag: want one stderr line naming it, got {err!r}")

    rc, err = attempt(["-o", out, "-p", "999999999"])
    expect(rc > 0, f"-p 999999999: exit status {rc}, want non-zero (stderr {err!r})")
    expect("999999999" in err, f"-p 999999999: stderr does not mention the pid: {err!r}")
    expect(READY not in err, f"-p 999999999: spanprobe got ready: {err!r}")


@case
def not_root(ctx):
    """Without privilege: one clear line, a non-zero exit, and no output
    file left behind (the check comes before anything is created)."""
    if os.geteuid() != 0:
        raise ProbeUnavailable("needs root to drop privilege")
    # a copy nobody can execute, in a directory nobody can write
    binary = os.path.join(ctx.dir, "spanprobe")
    shutil.copy(ctx.suite.binary, binary)
    os.chmod(ctx.dir, 0o755)
    os.chmod(binary, 0o755)
    out = os.path.join("/tmp", f"spanprobe-notroot-{os.getpid()}.jsonl")
    rc, err = ctx.run_to_end(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              binary, "-o", out], 30, "unprivileged spanprobe")
    expect(rc > 0, f"exit status {rc}, want non-zero ({err!r})")
    lines = err.strip().splitlines()
    expect(len(lines) == 1 and "root" in lines[0] and "permission" in lines[0],
           f"want one line saying root is needed, got {err!r}")
    expect(not os.path.exists(out), f"{out} was created before the privilege check")
