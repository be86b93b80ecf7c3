# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""HTTP/2: node's http2 client and server over h2c with prior knowledge
(127.0.0.1 only), both sides traced. Each call is one CLIENT and one
SERVER span with network.protocol.version=2 and the HTTP attributes; a
stream the server resets is ERROR with error.type=INTERNAL_ERROR on both
sides; a streamed response ends with its last DATA frame; credentials
never reach a span."""
import os

from cases import case
from checks import expect, no_problems, of_pid
from harness import NODE
from otlp import KIND_CLIENT, KIND_SERVER, STATUS_ERROR

HERE = os.path.dirname(os.path.abspath(__file__))


def check_h2(ctx, tls):
    probe = ctx.probe()
    extra = [ctx.suite.cert, ctx.suite.key] if tls else []
    res = ctx.run([NODE, os.path.join(HERE, "h2", "h2c.js"), *extra])
    expect(res.rc == 0, f"the h2c program exited {res.rc}: {res.stderr.strip()[-400:]}")
    port = int(res.stdout.split()[0])
    out = probe.stop()
    no_problems(out)
    spans = [s for s in of_pid(out, res.pid) if s.attrs.get("server.port") == port]
    for kind in (KIND_CLIENT, KIND_SERVER):
        mine = {s.attrs.get("url.path"): s for s in spans if s.kind == kind}
        expect(set(mine) == {"/a", "/b", "/reset", "/stream"},
               f"kind {kind}: want spans for /a /b /reset /stream, got {sorted(mine)}", spans)
        for path, s in mine.items():
            expect(s.attrs.get("network.protocol.version") == "2",
                   f"{path}: network.protocol.version {s.attrs.get('network.protocol.version')!r}",
                   [s])
            expect(s.attrs.get("http.request.method") == "GET", f"{path}: method", [s])
            expect("sk-h2-secret" not in repr(s.attrs), f"{path}: a credential in a span", [s])
        for path in ("/a", "/b", "/stream"):
            s = mine[path]
            expect(s.attrs.get("http.response.status_code") == 200, f"{path}: status", [s])
            expect(s.status_code != STATUS_ERROR, f"{path}: ERROR", [s])
        expect(mine["/stream"].attrs.get("http.response.body.size") == 21,
               "/stream: want 21 body bytes", [mine["/stream"]])
        expect(mine["/stream"].duration_ms >= 50, "/stream ended before its last chunk",
               [mine["/stream"]])
        r = mine["/reset"]
        expect(r.status_code == STATUS_ERROR and r.attrs.get("error.type") == "INTERNAL_ERROR",
               f"/reset: want ERROR with error.type INTERNAL_ERROR, got {r.attrs.get('error.type')!r}",
               [r])
    client = [s for s in spans if s.kind == KIND_CLIENT and s.attrs.get("url.path") == "/b"][0]
    scheme = "https" if tls else "http"
    expect(client.attrs.get("url.full") == f"{scheme}://127.0.0.1:{port}/b?x=1",
           f"url.full {client.attrs.get('url.full')!r}", [client])


@case
def h2c_prior_knowledge(ctx):
    """h2c with prior knowledge (the preface on a plain socket)."""
    check_h2(ctx, tls=False)


@case
def h2_tls(ctx):
    """h2 over TLS (ALPN), in node's statically linked OpenSSL."""
    check_h2(ctx, tls=True)
