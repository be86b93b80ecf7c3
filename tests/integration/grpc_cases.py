# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""gRPC over HTTP/2: @grpc/grpc-js (from npm, pinned in grpc/) client and
server in one node process over h2c on 127.0.0.1, both sides traced. A
unary call that succeeds and one the server fails with NOT_FOUND: each is a
CLIENT and a SERVER span named {service}/{method} with rpc.system=grpc,
rpc.service, rpc.method and rpc.grpc.status_code from the trailers, the
failing one ERROR."""
import os

from cases import case
from checks import expect, of_pid
from harness import NODE, Fail, npm_ci
from otlp import KIND_CLIENT, KIND_SERVER, STATUS_ERROR

GRPC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grpc")
_deps = None


def ensure_deps():
    global _deps
    if _deps is None:
        _deps = npm_ci(GRPC_DIR, os.path.join("@grpc", "grpc-js", "package.json"),
                       "the gRPC tests")
    if _deps:
        raise Fail(_deps)


@case
def grpc_unary(ctx):
    """grpc-js unary calls, OK and NOT_FOUND, client and server spans."""
    ensure_deps()
    probe = ctx.probe()
    res = ctx.run([NODE, os.path.join(GRPC_DIR, "greeter.js")])
    expect(res.rc == 0, f"greeter.js exited {res.rc}: {res.stderr.strip()[-400:]}")
    port = int(res.stdout.split()[0])
    out = probe.stop()
    spans = [s for s in of_pid(out, res.pid) if s.attrs.get("server.port") == port]
    for kind, side in ((KIND_CLIENT, "client"), (KIND_SERVER, "server")):
        mine = {s.name: s for s in spans if s.kind == kind}
        want = {"spanprobe.test.Greeter/SayHello", "spanprobe.test.Greeter/Fail"}
        expect(want <= set(mine), f"{side}: want spans {sorted(want)}, got {sorted(mine)}", spans)
        for method, code in (("SayHello", 0), ("Fail", 5)):
            s = mine["spanprobe.test.Greeter/" + method]
            a = s.attrs
            expect(a.get("rpc.system") == "grpc" and a.get("rpc.service") == "spanprobe.test.Greeter"
                   and a.get("rpc.method") == method,
                   f"{side} {method}: rpc.* attributes {a}", [s])
            expect(a.get("rpc.grpc.status_code") == code,
                   f"{side} {method}: rpc.grpc.status_code {a.get('rpc.grpc.status_code')!r}, "
                   f"want {code}", [s])
            expect(a.get("network.protocol.version") == "2", f"{side} {method}: not HTTP/2", [s])
            expect((s.status_code == STATUS_ERROR) == (code != 0),
                   f"{side} {method}: status {s.status_code} for gRPC code {code}", [s])
