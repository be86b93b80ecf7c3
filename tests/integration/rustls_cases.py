# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""rustls: a Rust HTTPS client (rust_client/, std::net + rustls::StreamOwned)
built once per machine against Debian's packaged rustls 0.20 with Debian's
cargo, offline, into build/rust-client/. With symbols its plaintext is read
(bpf/tls_rustls.bpf.c); stripped, spanprobe says why it does not probe it
and the client runs unharmed."""
import json
import os
import re
import shutil
import subprocess
import time

from cases import case
from checks import Window, expect, http_spans, no_problems, process_root
from harness import HERE, PYTHON, REPO, Fail, read_line
from otlp import KIND_CLIENT

BUILD = os.path.join(REPO, "build", "rust-client")
CARGO = "/usr/bin/cargo"  # Debian's, whatever rustup may have put on PATH
NOT_PROBED = "rustls found but not probed: no symbols (found by its source paths"


def client_binaries():
    """(with symbols, stripped): built on first use, then reused."""
    exe = os.path.join(BUILD, "target", "release", "sp-rustls-client")
    stripped = os.path.join(BUILD, "sp-rustls-client.stripped")
    src = os.path.join(HERE, "rust_client")
    files = ("Cargo.toml", os.path.join(".cargo", "config.toml"), os.path.join("src", "main.rs"))
    newest = max(os.path.getmtime(os.path.join(src, f)) for f in files)
    if not os.path.exists(exe) or os.path.getmtime(exe) < newest:
        if not os.path.exists(CARGO):
            raise Fail("Debian's cargo is not installed (tests/install-deps.sh: cargo "
                       "librust-rustls-dev librust-rustls-pemfile-dev)")
        # built from a copy under build/: the source tree gets no Cargo.lock,
        # and versions resolve against whatever Debian's registry holds
        work = os.path.join(BUILD, "src")
        for f in files:
            os.makedirs(os.path.dirname(os.path.join(work, f)), exist_ok=True)
            shutil.copy(os.path.join(src, f), os.path.join(work, f))
        env = dict(os.environ, CARGO_HOME=os.path.join(BUILD, "cargo-home"),
                   PATH="/usr/bin:/bin")
        res = subprocess.run([CARGO, "build", "--offline", "--release", "--target-dir",
                              os.path.join(BUILD, "target")],
                             cwd=work, env=env, capture_output=True, text=True, timeout=900)
        if res.returncode != 0:
            raise Fail(f"building rust_client failed: {res.stderr[-2000:]}")
    if not os.path.exists(stripped) or os.path.getmtime(stripped) < os.path.getmtime(exe):
        shutil.copy(exe, stripped + ".tmp")
        subprocess.run(["strip", stripped + ".tmp"], check=True)
        os.replace(stripped + ".tmp", stripped)
    return exe, stripped


def pki(ctx):
    """A CA and a localhost certificate it signed: webpki (rustls) takes no
    self-signed end-entity certificate and wants a subjectAltName."""
    d = ctx.dir
    run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True,
                                    timeout=60)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=spanprobe-test-ca",
        "-days", "1", "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "srv.key",
        "-out", "srv.csr")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "1", "-extfile", "ext", "-out", "srv.pem")
    return os.path.join(d, "ca.pem"), os.path.join(d, "srv.pem"), os.path.join(d, "srv.key")


def https_server(ctx, cert, key):
    """servers.py on our certificate: its HTTPS port."""
    proc = ctx.spawn([PYTHON, os.path.join(HERE, "servers.py"), "--cert", cert, "--key", key],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = read_line(proc.stdout, time.monotonic() + 30)
    if not line:
        raise Fail("test server did not report its ports")
    return json.loads(line)["https_port"]


def start_client(ctx, exe, ca, port, n, delay_ms=0):
    return ctx.spawn([exe, ca, "localhost", str(port), "/delay", str(n), str(delay_ms)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc, n):
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        raise Fail(f"rust client {proc.pid} did not finish")
    expect(proc.returncode == 0, f"rust client exited {proc.returncode}: {err.decode()[-500:]}")
    got = out.decode().split("\n")[:n]
    want = [f"conn {i} 200 " for i in range(n)]
    got = [g[:len(w)] for g, w in zip(got, want)]
    expect(got == want, f"rust client printed {got}, want {want}")


def check_calls(out, pid, port, n):
    """n GET /delay CLIENT spans, one per connection: connection i asked
    for a reply after i*200 ms, so its span has its own query, the body
    the server sent on that socket ("delayed {i*200} ms") and lasts at
    least that long; plaintext tied to the wrong socket breaks all three."""
    no_problems(out)
    root = process_root(out, pid)
    spans = http_spans(out, pid, KIND_CLIENT, port)
    expect(len(spans) == n, f"pid {pid}: {len(spans)} CLIENT spans to port {port}, want {n}",
           spans or out.spans)
    seen = set()
    for s in spans:
        a = s.attrs
        expect(s.name == "GET /delay", f"span name {s.name!r}", [s])
        expect(a.get("http.response.status_code") == 200, "status not 200", [s])
        full = a.get("url.full", "")
        m = re.fullmatch(rf"https://localhost:{port}/delay\?conn=(\d+)&ms=(\d+)", full)
        expect(m and int(m[2]) == 200 * int(m[1]), f"url.full {full!r}", [s])
        i = int(m[1])
        seen.add(i)
        expect(a.get("http.response.body.size") == len(f"delayed {200 * i} ms\n"),
               f"conn {i}: response body size {a.get('http.response.body.size')!r}", [s])
        expect(s.duration_ms >= 200 * i, f"conn {i}: lasted {s.duration_ms:.0f} ms", [s])
        expect(s.parent_id == root.span_id, "span not under its process", [s, root])
    expect(seen == set(range(n)), f"connections seen {sorted(seen)}", spans)


@case
def rustls_https(ctx):
    """rustls with symbols: a client started before spanprobe (found by the
    scan at start) and one after (found at exec), two interleaved
    connections each on one thread: full HTTP spans, each request tied to
    its own socket."""
    exe, _ = client_binaries()
    ca, cert, key = pki(ctx)
    port = https_server(ctx, cert, key)
    early = start_client(ctx, exe, ca, port, 2, delay_ms=4000)
    probe = ctx.probe()
    window = Window()
    late = start_client(ctx, exe, ca, port, 2)
    finish(late, 2)
    finish(early, 2)
    window.close()
    out = probe.stop()
    check_calls(out, late.pid, port, 2)
    check_calls(out, early.pid, port, 2)


@case
def rustls_stripped(ctx):
    """rustls in a stripped binary: spanprobe says it does not probe it
    (--list-tls-probes and -v), and the client runs unharmed under it."""
    _, stripped = client_binaries()
    ca, cert, key = pki(ctx)
    port = https_server(ctx, cert, key)
    res = subprocess.run([ctx.suite.binary, "--list-tls-probes", stripped], capture_output=True,
                         text=True, timeout=60)
    expect(res.returncode != 0 and NOT_PROBED in res.stderr,
           f"--list-tls-probes on a stripped rustls binary: rc {res.returncode}, "
           f"stderr {res.stderr[-500:]!r}")
    probe = ctx.probe("-v")
    proc = start_client(ctx, stripped, ca, port, 2)
    finish(proc, 2)
    out = probe.stop()
    expect(NOT_PROBED in probe.stderr, "spanprobe -v did not say why the stripped rustls "
           "client is not probed")
    no_problems(out)
    # no plaintext was read: whatever spans there are come from the socket
    # alone (encrypted-traffic spans), never an HTTP span with a request
    for s in http_spans(out, proc.pid, KIND_CLIENT, port):
        expect("url.path" not in s.attrs, "an HTTP span from plaintext spanprobe did not read",
               [s])
