# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Failed TCP connects: each is one ERROR CLIENT span named `connect`,
under the process's span, with error.type and where it was going; a
connect that succeeds, or one to an AF_UNIX socket, makes none. Every
connect goes to 127.0.0.1 (or, for "unreachable", to an address with no
route inside a network namespace of its own, so nothing is ever sent)."""
import os
import shutil
import socket

from cases import case
from cli_cases import record, replay_elsewhere
from checks import Window, check_child, expect, no_problems, of_pid, process_root
from harness import PYTHON, READY, Fail, Probe, ProbeUnavailable, Skip
from otlp import KIND_CLIENT, STATUS_ERROR


# argv[1]: a closed port. A blocking refused connect, two non-blocking
# ones (connect_ex -> EINPROGRESS, select, then SO_ERROR or a second
# connect), a successful one to a listener of our own, and a connect to an
# AF_UNIX path that is not there.
REFUSED = r'''
import errno, os, select, socket, sys
port = int(sys.argv[1])
s = socket.socket()
try:
    s.connect(("127.0.0.1", port))
    sys.exit("blocking connect to a closed port succeeded")
except ConnectionRefusedError:
    pass
s.close()
s = socket.socket()
s.setblocking(False)
rc = s.connect_ex(("127.0.0.1", port))
if rc != errno.EINPROGRESS:
    sys.exit(f"non-blocking connect returned {rc}, want EINPROGRESS")
select.select([], [s], [], 5)
err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
if err != errno.ECONNREFUSED:
    sys.exit(f"SO_ERROR {err}, want ECONNREFUSED")
s.close()
# the same, but checked on with a second connect(2), which returns the
# error again: still one failure
s = socket.socket()
s.setblocking(False)
s.connect_ex(("127.0.0.1", port))
select.select([], [s], [], 5)
rc = s.connect_ex(("127.0.0.1", port))
if rc != errno.ECONNREFUSED:
    sys.exit(f"the second connect returned {rc}, want ECONNREFUSED")
s.close()
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
ok = socket.create_connection(ls.getsockname())
ok.close()
ls.close()
u = socket.socket(socket.AF_UNIX)
try:
    u.connect("/nonexistent-spanprobe-test/sock")
except OSError:
    pass
u.close()
'''

# A listener that never accepts, its queue filled by a first client (a
# process of its own): the second client's SYNs are dropped and it gives
# up after 0.5 s (Python closes the socket still in SYN_SENT).
TIMEOUT = r'''
import os, socket, sys, time
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(0)
port = ls.getsockname()[1]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    first = socket.create_connection(("127.0.0.1", port))
    os.write(w, b"x")
    time.sleep(5)
    os._exit(0)
os.read(r, 1)
time.sleep(0.1)
t0 = time.monotonic()
try:
    socket.create_connection(("127.0.0.1", port), timeout=0.5)
    sys.exit("the second connect succeeded: the listen queue was not full")
except TimeoutError:
    pass
print(port, flush=True)
os.kill(pid, 9)
os.waitpid(pid, 0)
'''

# Inside `unshare --net` (only lo, down): no route to anything, so
# connect(2) fails at once and no packet is sent: ENETUNREACH for IPv4;
# IPv6 fails on the source address first (EADDRNOTAVAIL, no address at
# all) on 6.x. Prints each errno's name.
UNREACHABLE = r'''
import errno, socket, sys
for fam, addr in ((socket.AF_INET, ("10.255.255.1", 8080)), (socket.AF_INET6, ("2001:db8::1", 8081))):
    s = socket.socket(fam)
    try:
        s.connect(addr)
        sys.exit(f"connect to {addr} succeeded")
    except OSError as e:
        if e.errno not in (errno.ENETUNREACH, errno.EADDRNOTAVAIL):
            sys.exit(f"connect to {addr}: {e}, want ENETUNREACH or EADDRNOTAVAIL")
        print(errno.errorcode[e.errno])
    s.close()
'''
UNREACHABLE_MSG = {"ENETUNREACH": "network unreachable",
                   "EADDRNOTAVAIL": "no local address or port free"}


# Inside `unshare --net` with lo up and tcp_syn_retries=1 (the netns's
# own): a listener whose queue a first client fills drops the SYNs of the
# next, which give up after 1 + 2 s. Blocking: connect(2) returns
# ETIMEDOUT; non-blocking: the kernel's retransmit timer ends it later
# (tcp_write_err, in softirq), SO_ERROR says ETIMEDOUT. Prints the port.
SYN_TIMEOUT = r'''
import errno, select, socket, subprocess, sys, time
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
with open("/proc/sys/net/ipv4/tcp_syn_retries", "w") as f:
    f.write("1")
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(0)
port = ls.getsockname()[1]
first = socket.create_connection(("127.0.0.1", port))
time.sleep(0.1)
s = socket.socket()
try:
    s.connect(("127.0.0.1", port))
    sys.exit("the blocking connect succeeded: the listen queue was not full")
except TimeoutError:
    pass
s.close()
s = socket.socket()
s.setblocking(False)
rc = s.connect_ex(("127.0.0.1", port))
if rc != errno.EINPROGRESS:
    sys.exit(f"non-blocking connect returned {rc}, want EINPROGRESS")
select.select([], [s], [], 15)
err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
if err != errno.ETIMEDOUT:
    sys.exit(f"SO_ERROR {err}, want ETIMEDOUT")
s.close()
print(port)
'''


def closed_port():
    """A 127.0.0.1 port nobody listens on (bound, then let go)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def connect_spans(out, pid):
    return [s for s in of_pid(out, pid) if s.name == "connect"]


def check_connect(span, *, port, error_type, message, addr="127.0.0.1", net="ipv4",
                  min_ms=0, max_ms=2000):
    a, ev = span.attrs, [span]
    expect(span.kind == KIND_CLIENT, f"connect span kind {span.kind}, want CLIENT", ev)
    expect(span.status_code == STATUS_ERROR, "connect span status is not ERROR", ev)
    expect(span.status_message == message,
           f"status message {span.status_message!r}, want {message!r}", ev)
    want = {"error.type": error_type, "server.address": addr, "server.port": port,
            "network.peer.address": addr, "network.peer.port": port,
            "network.transport": "tcp", "network.type": net}
    for k, v in want.items():
        expect(a.get(k) == v, f"{k} = {a.get(k)!r}, want {v!r}", ev)
    expect(min_ms <= span.duration_ms < max_ms,
           f"connect lasted {span.duration_ms:.1f} ms, want [{min_ms}, {max_ms}) ms", ev)


def run_script(ctx, script, *args, wrap=()):
    res = ctx.run([*wrap, PYTHON, "-c", script, *map(str, args)])
    expect(res.rc == 0, f"the test program exited {res.rc}: {res.stderr.strip()[-400:]}")
    return res


@case
def connect_refused(ctx):
    """System-wide: a blocking and two non-blocking connects to a closed
    port are one ERROR span each (ECONNREFUSED); a successful connect and
    an AF_UNIX one make none."""
    port = closed_port()
    probe = ctx.probe()
    window = Window()
    res = run_script(ctx, REFUSED, port)
    window.close()
    out = probe.stop()
    no_problems(out)
    spans = connect_spans(out, res.pid)
    expect(len(spans) == 3, f"want 3 connect spans of pid {res.pid}, got {len(spans)}",
           spans or of_pid(out, res.pid))
    root = process_root(out, res.pid)
    for span in spans:
        check_connect(span, port=port, error_type="ECONNREFUSED", message="connection refused")
        check_child(span, root)
        window.check(span)
    others = [s for s in of_pid(out, res.pid) if s is not root and s not in spans]
    expect(not others, "spans besides the three failed connects and the process", others)


@case
def connect_timeout(ctx):
    """A connect given up by the process (Python's timeout=0.5 on a
    listener whose queue is full) is error.type=timeout, ~0.5 s long."""
    probe = ctx.probe()
    res = run_script(ctx, TIMEOUT)
    port = int(res.stdout.split()[0])
    out = probe.stop()
    no_problems(out)
    spans = [s for s in out.spans if s.name == "connect" and s.attrs.get("server.port") == port]
    span = spans[0] if len(spans) == 1 else None
    expect(span is not None, f"want one connect span to port {port}, got {len(spans)}",
           spans or of_pid(out, res.pid))
    expect(span.pid == res.pid, f"the connect span is pid {span.pid}'s, want {res.pid}", [span])
    check_connect(span, port=port, error_type="timeout",
                  message="connect given up by the process before the handshake completed",
                  min_ms=450, max_ms=2500)
    expect(span.attrs.get("spanprobe.connect.abandoned") is True,
           "spanprobe.connect.abandoned is not true", [span])
    check_child(span, process_root(out, res.pid))


@case
def connect_unreachable(ctx):
    """No route (an empty network namespace): IPv4 and IPv6 connects fail
    at once, each one ERROR span with the errno connect(2) returned."""
    unshare = shutil.which("unshare")
    if not unshare:
        raise Skip("no unshare(1)")
    probe = ctx.probe()
    res = ctx.run([unshare, "--net", PYTHON, "-c", UNREACHABLE])
    if res.rc != 0 and "unshare" in res.stderr:
        raise Skip(f"unshare --net failed: {res.stderr.strip()[-200:]}")
    expect(res.rc == 0, f"the test program exited {res.rc}: {res.stderr.strip()[-400:]}")
    out = probe.stop()
    no_problems(out)
    spans = sorted(connect_spans(out, res.pid), key=lambda s: s.start)
    expect(len(spans) == 2, f"want 2 connect spans of pid {res.pid}, got {len(spans)}",
           spans or of_pid(out, res.pid))
    got = res.stdout.split()
    expect(got[0] == "ENETUNREACH", f"IPv4 connect with no route failed with {got[0]}")
    check_connect(spans[0], port=8080, addr="10.255.255.1", error_type=got[0],
                  message=UNREACHABLE_MSG[got[0]])
    check_connect(spans[1], port=8081, addr="2001:db8::1", net="ipv6",
                  error_type=got[1], message=UNREACHABLE_MSG[got[1]])


@case
def connect_syn_timeout(ctx):
    """The kernel gives up on the handshake (SYN retries run out): a
    blocking connect and a non-blocking one, whose failure comes later
    from the retransmit timer, are each one span, error.type=timeout."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if not unshare or not ip:
        raise Skip("needs unshare(1) and ip(8)")
    probe = ctx.probe()
    res = ctx.run([unshare, "--net", PYTHON, "-c", SYN_TIMEOUT])
    if res.rc != 0 and "unshare" in res.stderr:
        raise Skip(f"unshare --net failed: {res.stderr.strip()[-200:]}")
    expect(res.rc == 0, f"the test program exited {res.rc}: {res.stderr.strip()[-400:]}")
    port = int(res.stdout.split()[0])
    out = probe.stop()
    no_problems(out)
    spans = connect_spans(out, res.pid)
    expect(len(spans) == 2, f"want 2 connect spans of pid {res.pid}, got {len(spans)}",
           spans or of_pid(out, res.pid))
    root = process_root(out, res.pid)
    for span in spans:
        check_connect(span, port=port, error_type="timeout", message="connection timed out",
                      min_ms=2900, max_ms=6000)
        expect("spanprobe.connect.abandoned" not in span.attrs,
               "the kernel's timeout is marked abandoned", [span])
        check_child(span, root)


@case
def connect_refused_command(ctx):
    """`-- CMD`: the failed connects land in the command's trace, under its
    process span; spanprobe's own export to a dead backend makes none."""
    port, dead = closed_port(), closed_port()
    probe = Probe(ctx, ["--otlp-endpoint", f"http://127.0.0.1:{dead}", "--",
                        PYTHON, "-c", REFUSED, str(port)])
    rc = probe.wait(60)
    if not probe.ready.is_set():
        if rc > 0:
            raise ProbeUnavailable(f"spanprobe exited {rc} before ready: {probe.stderr[-300:]!r}")
        raise Fail(f"spanprobe exited {rc} without printing {READY!r}")
    expect(rc == 0, f"spanprobe exited {rc}, want the command's 0: {probe.stderr[-400:]!r}")
    out = probe.output()
    no_problems(out)
    spans = [s for s in out.spans if s.name == "connect"]
    expect(len(spans) == 3, f"want 3 connect spans, got {len(spans)}", spans)
    pid = spans[0].pid
    root = process_root(out, pid)
    for span in spans:
        expect(span.pid == pid, "the connect spans are of two processes", spans)
        check_connect(span, port=port, error_type="ECONNREFUSED", message="connection refused")
        check_child(span, root)
    own = [s for s in out.spans if s.attrs.get("server.port") == dead]
    expect(not own, "spanprobe's own connects to the dead OTLP backend made spans", own)


@case
def connect_record_replay(ctx):
    """spanprobe record FILE -- (refused connects); replay gives the live
    run's connect spans exactly (the record travels as it was read)."""
    if os.geteuid() != 0:
        raise Skip("needs root (to trace, and to replay as another user)")
    port = closed_port()
    rec = os.path.join(ctx.dir, "run.rec")
    live = os.path.join(ctx.dir, "live.jsonl")
    out, live_spans, live_shape = record(ctx, rec, live, [PYTHON, "-c", REFUSED, str(port)],
                                         "python3")
    spans = [s for s in out.spans if s.name == "connect"]
    expect(len(spans) == 3, f"the live run made {len(spans)} connect spans, want 3", live_spans)
    replay_elsewhere(ctx, rec, live_spans, live_shape)
