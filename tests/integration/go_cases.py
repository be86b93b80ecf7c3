# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Go's crypto/tls (bpf/tls_go.bpf.c, userspace/discovery/tls_go.c): a Go
HTTPS client and server (go_tls/, standard library only) traced through
their (*tls.Conn).Write/Read probes, plain and stripped, started before
spanprobe and after it, several connections of one process at once, a
streaming response, and Go binaries that must be left alone (a function
whose bytes do not decode, a Go too old for the register ABI, a Go program
without crypto/tls), which must still run.

The Go programs are built by the test, once, into build/go_tls/ (GOCACHE
there too, offline: GOPROXY=off, standard library only), and rebuilt only
when a source is newer than the binary. Registered in cases.CASES.
"""
import json
import os
import shutil
import subprocess
import time

from cases import case
from checks import expect
from harness import REPO, Fail, Skip, read_line
from otlp import KIND_CLIENT, KIND_SERVER

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "go_tls")
OUT = os.path.join(REPO, "build", "go_tls")
GO = shutil.which("go") or "/usr/lib/go-1.19/bin/go"
# a Go with the 1.20+ .gopclntab (magic 0xfffffff1): bookworm-backports'
# golang-1.23-go (tests/install-deps.sh)
GO_NEW = "/usr/lib/go-1.23/bin/go"
BUILD_TIMEOUT = 300

_built = {}  # flavour -> path, or an Exception's message


def _sources():
    for root, _, files in os.walk(SRC):
        for f in files:
            yield os.path.join(root, f)


def go_binary(flavour):
    """build/go_tls/<flavour>: "go_tls", "go_tls_stripped" (-s -w),
    "go_tls_go123" (built by Go 1.23) or "notls"; built once per run and
    only when older than its sources."""
    if flavour in _built:
        if _built[flavour].startswith("/"):
            return _built[flavour]
        raise Fail(_built[flavour])
    go = GO_NEW if flavour == "go_tls_go123" else GO
    if not os.access(go, os.X_OK):
        raise Skip(f"no {go} (tests/install-deps.sh installs golang-go, and golang-1.23-go "
                   "from bookworm-backports)")
    path = os.path.join(OUT, flavour)
    newest = max(os.path.getmtime(p) for p in _sources())
    if not os.path.exists(path) or os.path.getmtime(path) < newest:
        os.makedirs(OUT, exist_ok=True)
        cache = "cache123" if go == GO_NEW else "cache"
        env = dict(os.environ, GOCACHE=os.path.join(OUT, cache), GOPROXY="off", GOFLAGS="",
                   GO111MODULE="on", CGO_ENABLED="0", GOTOOLCHAIN="local")
        argv = [go, "build", "-o", path + ".tmp"]
        if flavour == "go_tls_stripped":
            argv += ["-ldflags=-s -w"]
        argv += ["./notls" if flavour == "notls" else "."]
        started = time.monotonic()
        res = subprocess.run(argv, cwd=SRC, env=env, capture_output=True, timeout=BUILD_TIMEOUT)
        if res.returncode != 0:
            _built[flavour] = f"go build {flavour} failed: {res.stderr.decode()[-600:]}"
            raise Fail(_built[flavour])
        os.rename(path + ".tmp", path)
        print(f"  built {path} in {time.monotonic() - started:.1f}s", flush=True)
    _built[flavour] = path
    return path


class GoServer:
    """go_tls server in its own process; self.log is what it saw."""

    def __init__(self, ctx, binary, h2=False, name="server"):
        self.log = os.path.join(ctx.dir, f"go_{name}.jsonl")
        argv = [binary, "server", "-cert", ctx.suite.cert, "-key", ctx.suite.key,
                "-log", self.log] + (["-h2"] if h2 else [])
        self.proc = ctx.spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        line = read_line(self.proc.stdout, time.monotonic() + 30)
        if not line or not line.startswith("listening "):
            raise Fail(f"the Go server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.pid = self.proc.pid

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def seen(self):
        try:
            with open(self.log, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []


def start_client(ctx, binary, url, n=1, c=1, wait=False, h2=False):
    argv = [binary, "client", "-url", url, "-n", str(n), "-c", str(c)]
    argv += (["-wait-stdin"] if wait else []) + (["-h2"] if h2 else [])
    return ctx.spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish_client(proc, go=False):
    try:
        out, err = proc.communicate(b"go\n" if go else None, timeout=60)
    except subprocess.TimeoutExpired:
        raise Fail(f"Go client {proc.pid} did not finish")
    expect(proc.returncode == 0, f"Go client {proc.pid} exited {proc.returncode}: "
           f"{err.decode(errors='replace')[-400:]}")
    return out.decode()


def body_size(g, i, text="ping"):
    return len(f"conn={g} req={i} {text}") + g * 7 + i


def check_echo_spans(spans, pid, kind, port, n, c, what, version="1.1"):
    """Exactly one span per exchange of go_tls client -n n -c c, each with
    its own path and the body sizes that path says: a span assembled from
    two connections' bytes would pair a path with another's sizes."""
    mine = [s for s in spans if s.pid == pid and s.kind == kind
            and s.attrs.get("server.port") == port
            and str(s.attrs.get("url.path", "")).startswith("/echo/")]
    paths = sorted(s.attrs["url.path"] for s in mine)
    want = sorted(f"/echo/{g}/{i}" for g in range(c) for i in range(n))
    expect(paths == want, f"{what}: spans for {paths}, want one for each of {want}", mine)
    for s in mine:
        _, _, g, i = s.attrs["url.path"].split("/")
        size = body_size(int(g), int(i))
        a = s.attrs
        expect(s.name == f"POST {a['url.path']}" and a.get("http.request.method") == "POST"
               and a.get("http.response.status_code") == 200
               and a.get("network.protocol.version") == version,
               f"{what}: {s.name!r}: method, status or protocol version", [s])
        expect(a.get("http.request.body.size") == size and a.get("http.response.body.size") == size,
               f"{what}: {a['url.path']} has body sizes {a.get('http.request.body.size')}/"
               f"{a.get('http.response.body.size')}, want {size} (its own request's)", [s])
    return mine


def check_server_saw(server, n, c, what):
    """The plaintext the server got: every request, each its own body."""
    seen = [r for r in server.seen() if r["path"].startswith("/echo/")]
    want = sorted(f"/echo/{g}/{i}" for g in range(c) for i in range(n))
    expect(sorted(r["path"] for r in seen) == want, f"{what}: the server saw "
           f"{sorted(r['path'] for r in seen)}, want {want}")
    for r in seen:
        _, _, g, i = r["path"].split("/")
        expect(len(r["body"]) == body_size(int(g), int(i)) and r["proto"] == "HTTP/1.1",
               f"{what}: the server saw {r} for {r['path']}")


@case
def go_tls_http1(ctx):
    """A Go HTTPS server started before spanprobe and two Go clients, one
    started before spanprobe (waiting) and one after, the second with 4
    connections at once: every exchange one CLIENT span and one SERVER
    span with its own path and sizes, as the server's plaintext says."""
    binary = go_binary("go_tls")
    server = GoServer(ctx, binary)
    early = start_client(ctx, binary, server.url("/echo"), n=2, c=1, wait=True)
    probe = ctx.probe("-v")
    for s in probe.stderr_lines:
        if "not probed" in s and binary in s:
            raise Fail(f"spanprobe declined the Go binary: {s}")
    finish_client(early, go=True)
    late = start_client(ctx, binary, server.url("/echo"), n=3, c=4)
    finish_client(late)
    out = probe.stop()
    check_echo_spans(out.spans, early.pid, KIND_CLIENT, server.port, 2, 1, "client before")
    check_echo_spans(out.spans, late.pid, KIND_CLIENT, server.port, 3, 4, "client after")
    # the server's side: 2 + 12 exchanges on 5 connections, one process
    srv = [s for s in out.spans if s.pid == server.pid and s.kind == KIND_SERVER
           and str(s.attrs.get("url.path", "")).startswith("/echo/")]
    expect(len(srv) == 14, f"the Go server has {len(srv)} SERVER spans, want 14", srv)
    for s in srv:
        _, _, g, i = s.attrs["url.path"].split("/")
        size = body_size(int(g), int(i))
        expect(s.attrs.get("http.request.body.size") == size
               and s.attrs.get("http.response.body.size") == size
               and s.attrs.get("http.response.status_code") == 200,
               f"SERVER {s.attrs['url.path']}: sizes or status", [s])
    seen = server.seen()
    expect(len([r for r in seen if r["path"].startswith("/echo/")]) == 14,
           f"the server saw {len(seen)} requests, want 14")
    points = [s for s in probe.stderr_lines if "attached" in s and "(go)" in s]
    expect(any("entry" in s for s in points) and any(" ret +" in s for s in points),
           f"-v lists no Go entry and return points: {points[:4]}")


@case
def go_tls_stripped(ctx):
    """A stripped Go binary (-ldflags=-s -w: no symbol table, found through
    .gopclntab) as client and server: 3 connections at once, and a
    streaming response (chunked, flushed in 5 pieces 20 ms apart) that is
    one span with the whole body."""
    binary = go_binary("go_tls_stripped")
    res = subprocess.run(["readelf", "-S", binary], capture_output=True, text=True)
    expect(".symtab" not in res.stdout, f"{binary} still has a symbol table")
    listed = subprocess.run([ctx.suite.binary, "--list-tls-probes", binary],
                            capture_output=True, text=True)
    expect(listed.returncode == 0 and "(*Conn).Write entry" in listed.stdout
           and "(*Conn).Read ret +" in listed.stdout,
           f"--list-tls-probes {binary}: {listed.stdout[-300:]!r} {listed.stderr[-300:]!r}")
    # the server first: its binary is then attached by spanprobe's start
    # (a binary first exec'd later is attached by the discovery thread a
    # few ms after exec, and the client would race that)
    server = GoServer(ctx, binary)
    probe = ctx.probe()
    client = start_client(ctx, binary, server.url("/echo"), n=2, c=3)
    finish_client(client)
    stream = start_client(ctx, binary, server.url("/stream"))
    finish_client(stream)
    out = probe.stop()
    check_echo_spans(out.spans, client.pid, KIND_CLIENT, server.port, 2, 3, "stripped client")
    check_server_saw(server, 2, 3, "stripped")
    st = [s for s in out.spans if s.pid == stream.pid and s.kind == KIND_CLIENT
          and s.attrs.get("url.path") == "/stream"]
    expect(len(st) == 1, f"{len(st)} CLIENT spans for /stream, want 1", st)
    a = st[0].attrs
    expect(a.get("http.response.status_code") == 200
           and a.get("http.response.body.size") == len("".join(f"piece {i};" for i in range(5)))
           and st[0].duration_ms >= 80,
           f"/stream: status, whole body size (40) or duration (>= 80 ms)", st)


def _corrupt_write_padding(src, dst):
    """A copy of src whose crypto/tls.(*Conn).Write has bytes that do not
    decode (0x06, invalid in 64-bit mode) in its padding after the last
    instruction: never executed, so the program still runs, but the
    function's linear decode fails. Returns the first corrupted vaddr."""
    nm = subprocess.run([GO, "tool", "nm", "-n", src], capture_output=True, text=True,
                        check=True).stdout.splitlines()
    addrs = [(int(line.split()[0], 16), line.split(None, 2)[2]) for line in nm
             if len(line.split()) >= 3 and line.split()[1] in ("T", "t")]
    i = next(k for k, (_, name) in enumerate(addrs) if name == "crypto/tls.(*Conn).Write")
    entry, end = addrs[i][0], addrs[i + 1][0]
    sh = subprocess.run(["readelf", "-SW", src], capture_output=True, text=True).stdout
    text = next(line for line in sh.splitlines() if " .text " in line).split("]")[1].split()
    taddr, toff = int(text[2], 16), int(text[3], 16)
    data = bytearray(open(src, "rb").read())
    off = end - taddr + toff
    pad = 0
    while data[off - pad - 1] == 0xCC:
        pad += 1
    expect(pad >= 2, f"crypto/tls.(*Conn).Write has no int3 padding to corrupt ({pad})")
    for k in range(off - pad, off):
        data[k] = 0x06
    with open(dst, "wb") as f:
        f.write(data)
    os.chmod(dst, 0o755)
    assert entry < end - pad
    return end - pad


@case
def go_tls_declined(ctx):
    """Go binaries spanprobe must not probe, each saying why: Write's
    bytes do not all decode (corrupted padding: its returns cannot be
    proven), a Go version older than 1.17 (the build information patched
    to say go1.15), and a Go program without crypto/tls. The first two
    still run their HTTPS exchanges unharmed, with no plaintext spans."""
    binary = go_binary("go_tls")
    bad = os.path.join(ctx.dir, "go_tls_undecodable")
    at = _corrupt_write_padding(binary, bad)
    old = os.path.join(ctx.dir, "go_tls_old")
    data = open(binary, "rb").read()
    ver = data.find(b"\x08go1.19")
    expect(ver > 0, "no go1.19 version in the build information")
    with open(old, "wb") as f:
        f.write(data[:ver + 1] + b"go1.15" + data[ver + 7:])
    os.chmod(old, 0o755)
    notls = go_binary("notls")
    for path, why in ((bad, f"the byte at {hex(at)} of crypto/tls.(*Conn).Write does not decode"),
                      (old, "older than Go 1.17"), (notls, None)):
        res = subprocess.run([ctx.suite.binary, "--list-tls-probes", path],
                             capture_output=True, text=True)
        expect(res.returncode != 0 and not res.stdout.strip(),
               f"--list-tls-probes {path} listed points: {res.stdout[-300:]!r}")
        if why:
            expect(why in res.stderr and "not probed" in res.stderr,
                   f"--list-tls-probes {path} does not say {why!r}: {res.stderr[-400:]!r}")
    res = subprocess.run([ctx.suite.binary, "-v", "--list-tls-probes", notls],
                         capture_output=True, text=True)
    expect("no crypto/tls.(*Conn).Write (does not use crypto/tls)" in res.stderr,
           f"-v --list-tls-probes {notls} does not say why: {res.stderr[-400:]!r}")
    server = GoServer(ctx, binary)
    probe = ctx.probe("-v")
    clients = [start_client(ctx, path, server.url("/echo")) for path in (bad, old)]
    for c in clients:
        finish_client(c)
    out = probe.stop()
    for c, path in zip(clients, (bad, old)):
        spans = [s for s in out.spans if s.pid == c.pid and s.kind == KIND_CLIENT
                 and s.attrs.get("server.port") == server.port]
        expect(not spans, f"the declined {path} has CLIENT spans", spans)
    expect(any("not probed" in s and "does not decode" in s for s in probe.stderr_lines),
           f"spanprobe -v does not say why it left {bad} alone")


@case
def go_tls_not_tcp(ctx):
    """A *tls.Conn over net.Pipe (no socket: its conn's itab is not
    *net.TCPConn's): the probes skip its calls and count them in the exit
    line, and make no span of bytes they could not tie to a socket."""
    binary = go_binary("go_tls")
    GoServer(ctx, binary)  # running: its binary is attached at spanprobe's start
    probe = ctx.probe()
    res = ctx.run([binary, "pipe", "-cert", ctx.suite.cert, "-key", ctx.suite.key])
    expect(res.rc == 0 and "200 OK" in res.stdout,
           f"go_tls pipe exited {res.rc}: {res.stdout[-200:]!r} {res.stderr[-300:]!r}")
    out = probe.stop()
    spans = [s for s in out.spans if s.pid == res.pid and s.attrs.get("url.path") == "/pipe"]
    expect(not spans, "the net.Pipe exchange has HTTP spans", spans)
    line = next((s for s in probe.stderr_lines if "HTTP exchanges; dropped:" in s), "")
    expect("Go TLS calls on a connection other than a *net.TCPConn" in line,
           f"the exit line does not count the skipped Go calls: {line!r}")


@case
def go_tls_newer_go(ctx):
    """The same client and server built by Go 1.23 (bookworm-backports): the
    Go 1.20+ .gopclntab, and the struct path to the fd unchanged since 1.12
    (a crossed or unbound stream would show here)."""
    binary = go_binary("go_tls_go123")
    with open(binary, "rb") as f:
        data = f.read()
    expect(b"\xf1\xff\xff\xff\x00\x00\x01\x08" in data and b"\x08go1.23" in data,
           f"{binary} has no Go 1.20+ .gopclntab header or no go1.23 build information")
    server = GoServer(ctx, binary)
    probe = ctx.probe()
    client = start_client(ctx, binary, server.url("/echo"), n=2, c=2)
    finish_client(client)
    out = probe.stop()
    check_echo_spans(out.spans, client.pid, KIND_CLIENT, server.port, 2, 2, "Go 1.23 client")
    check_server_saw(server, 2, 2, "Go 1.23")
    srv = [s for s in out.spans if s.pid == server.pid and s.kind == KIND_SERVER
           and str(s.attrs.get("url.path", "")).startswith("/echo/")]
    expect(len(srv) == 4, f"the Go 1.23 server has {len(srv)} SERVER spans, want 4", srv)


@case
def go_tls_h2(ctx):
    """Go's default client and server speak HTTP/2 over TLS (ALPN h2): the
    exchange is an HTTP span with network.protocol.version 2. (Needs the
    HTTP/2 decoder, branch h2.)"""
    binary = go_binary("go_tls")
    server = GoServer(ctx, binary, h2=True)
    probe = ctx.probe()
    client = start_client(ctx, binary, server.url("/echo"), n=2, c=1, h2=True)
    text = finish_client(client)
    expect("HTTP/2.0 200" in text, f"the Go client did not speak HTTP/2: {text[-200:]!r}")
    out = probe.stop()
    check_echo_spans(out.spans, client.pid, KIND_CLIENT, server.port, 2, 1, "h2 client",
                     version="2")
