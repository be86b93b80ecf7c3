# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The command line's own contract: an event loop that stops on time
whatever the load, and record/replay (spanprobe record FILE ... then
spanprobe replay FILE gives the same spans, with no BPF and no root)."""
import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import otlp
from cases import case, curl, exe_base, single_root
from checks import expect
from harness import NODE, PYTHON, READY, Fail, Probe, Skip, kill_group, request
from llm_cases import CHAT, LLMServer, chat_body, curl_post
from llm_server import STREAM_USAGE

STATS_LINE = re.compile(r"^spanprobe: \d+ spans, \d+ HTTP exchanges; dropped: ")
STOP_BUDGET_S = 2.0  # the contract says a second; CI noise gets the rest
LOAD_SECONDS = 30  # the busy loop ends by itself even if cleanup never runs
NOBODY = 65534

# Four keep-alive connections, each a client process sending GETs as fast
# as its server process answers: the ring buffer never empties, which is
# what kept spanprobe from seeing SIGINT or --duration for 20-40 s.
BUSY_LOOP = r'''
import os, select, signal, socket, sys, time
started = time.monotonic()
secs, nconn, times = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(16)
port = ls.getsockname()[1]
REQ = b"GET /busy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
kids = []
for _ in range(nconn):
    pid = os.fork()
    if pid == 0:
        c = socket.create_connection(("127.0.0.1", port))
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        end = time.monotonic() + secs
        while time.monotonic() < end:
            c.sendall(REQ)
            got = b""
            while not got.endswith(b"ok"):
                got += c.recv(4096)
        os._exit(0)
    kids.append(pid)
    conn, _ = ls.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pid = os.fork()
    if pid == 0:
        ls.close()
        buf = b""
        while True:
            data = conn.recv(65536)
            if not data:
                os._exit(0)
            buf += data
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                conn.sendall(RESP)
    kids.append(pid)
    conn.close()


def running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


# A watcher in spanprobe's session notes when spanprobe is gone and how
# many of the load's processes still ran then: on a 2-vCPU VM the load can
# keep the test runner (another session) off the CPU for seconds, and the
# runner's own clock would time the scheduler, not spanprobe.
spanprobe = os.getppid()
if os.fork() == 0:
    ls.close()
    pidfd = os.pidfd_open(spanprobe)
    select.select([pidfd], [], [])
    gone = time.monotonic()
    alive = sum(map(running, kids))
    with open(times + ".tmp", "w") as f:
        f.write(f"{started} {gone} {alive}\n")
    os.rename(times + ".tmp", times)
    os._exit(0)
# SIGINT (spanprobe passes it on to its COMMAND) ends this process only:
# the connections go on, and so does the load spanprobe must see through
signal.signal(signal.SIGINT, lambda *_: os._exit(0))
print("ready", port, flush=True)
try:
    while True:
        os.wait()
except ChildProcessError:
    pass
'''


def busy_probe(ctx, *args):
    """spanprobe ARGS -- the busy loop, ready; returns (probe, the loop's port).

    The loop is spanprobe's COMMAND so that both share a session: with
    sched_autogroup (Linux 6.18 here), a busy session of its own starved
    spanprobe's for seconds, which would measure the scheduler, not us.
    """
    path = os.path.join(ctx.dir, "busy.py")
    with open(path, "w") as f:
        f.write(BUSY_LOOP)
    probe = Probe(ctx, ["--no-console", *args, "--", PYTHON, path, str(LOAD_SECONDS), "4",
                        os.path.join(ctx.dir, "busy.times")])
    probe.wait_ready()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(probe.stdout_path) as f:
            line = f.readline()
        if line.endswith("\n"):
            if not line.startswith("ready "):
                raise Fail(f"the busy loop did not start: {line!r}")
            return probe, int(line.split()[1])
        if probe.proc.poll() is not None:
            raise Fail(f"spanprobe exited {probe.proc.returncode} before the busy loop started")
        time.sleep(0.05)
    raise Fail("the busy loop did not report its port within 30 s")


def wait_exit(ctx, probe, what):
    """Waits for spanprobe to exit; returns (status, when the busy loop
    started, when spanprobe was gone, how many of the load's 8 processes
    still ran then), times in CLOCK_MONOTONIC seconds as the watcher saw them."""
    try:
        rc = probe.proc.wait(30)
    except subprocess.TimeoutExpired:
        kill_group(probe.proc)
        raise Fail(f"spanprobe did not exit within 30 s of {what} under load")
    probe.reader.join(5)
    path = os.path.join(ctx.dir, "busy.times")
    deadline = time.monotonic() + 10
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise Fail("the busy loop's watcher did not write when spanprobe exited")
        time.sleep(0.05)
    with open(path) as f:
        started, gone, alive = f.read().split()
    return rc, float(started), float(gone), int(alive)


def check_stopped_under_load(probe, port, alive, rc, took, what, budget):
    expect(rc == 0, f"spanprobe exited {rc} after {what}, want 0")
    expect(took < budget, f"spanprobe took {took:.2f} s to exit after {what} with four busy "
           f"connections, want under {budget:.1f} s")
    # the load outlived spanprobe: the ring buffer was busy to the end
    expect(alive == 8, f"of the busy loop's 4 clients and 4 servers, {alive} still ran when "
           "spanprobe had exited: the test proves nothing")
    expect(any(STATS_LINE.match(line) for line in probe.stderr_lines),
           "spanprobe printed no final 'N spans, N HTTP exchanges; dropped: ...' line")
    out = probe.output()
    busy_spans = [s for s in out.spans if s.attrs.get("server.port") == port]
    expect(len(busy_spans) > 100, f"only {len(busy_spans)} spans of the busy loop's port {port}: "
           "was spanprobe tracing it?")


@case
def stop_sigint_busy(ctx):
    """SIGINT while four keep-alive connections keep the ring buffer full:
    spanprobe passes it to its COMMAND, sees the command end and exits,
    within the budget, with its stats line."""
    probe, port = busy_probe(ctx)
    time.sleep(1.5)  # let the load build up (not a proof of anything)
    expect(probe.proc.poll() is None, "spanprobe exited before SIGINT")
    since = time.monotonic()
    probe.proc.send_signal(signal.SIGINT)
    rc, _, gone, alive = wait_exit(ctx, probe, "SIGINT")
    check_stopped_under_load(probe, port, alive, rc, gone - since, "SIGINT", STOP_BUDGET_S)


@case
def stop_duration_busy(ctx):
    """--duration ends the run on time under the same load."""
    duration = 3
    probe, port = busy_probe(ctx, "-d", str(duration))
    # from the command's start, just after the ready line: -d's count starts there
    rc, started, gone, alive = wait_exit(ctx, probe, f"the start of -d {duration}")
    check_stopped_under_load(probe, port, alive, rc, gone - started, f"-d {duration}",
                             duration + STOP_BUDGET_S)


def span_set(out):
    """Spans in a comparable form: ids replaced by positions in the set."""
    spans = sorted(out.spans, key=lambda s: (s.start, s.end, s.name, s.kind))
    index = {s.span_id: i for i, s in enumerate(spans)}
    traces = {}
    shape = []
    for s in spans:
        trace = traces.setdefault(s.trace_id, len(traces))
        parent = index.get(s.parent_id, "missing" if s.parent_id else None)
        shape.append(dict(name=s.name, kind=s.kind, start=s.start, end=s.end, attrs=s.attrs,
                          status=(s.status_code, s.status_message), resource=s.resource,
                          parent=parent, trace=trace))
    return spans, shape


def cut_inside_a_frame(data):
    """A length that ends the recording halfway through a frame past its
    middle (layout: userspace/capture/record.h)."""
    at = int.from_bytes(data[10:12], "little")  # header_len
    while at < len(data):
        n = int.from_bytes(data[at:at + 4], "little")
        if at >= len(data) // 2:
            return at + 16 + n // 2 if n else at + 8
        at += 16 + n
    raise Fail("the recording has no frame past its middle")


def run_as_nobody(ctx, cwd, argv):
    return ctx.run_to_end(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                           "--clear-groups", *argv], 60, " ".join(argv), cwd=cwd,
                          env={k: v for k, v in os.environ.items()
                               if not k.startswith("SPANPROBE")})


def record(ctx, rec, live, command, what):
    """spanprobe record REC -o LIVE -- COMMAND, to its end; checks the
    command's 0 exit, the recording's mode and the credentials notice.
    Returns the live run's spans in comparable form (span_set)."""
    probe = Probe(ctx, ["record", rec, "-o", live, "--no-console", "--", *command],
                  output=False)
    probe.wait_ready()
    rc = probe.wait(90)
    expect(rc == 0, f"spanprobe record -- {what} exited {rc}, want {what}'s 0: "
           f"{probe.stderr_lines[-5:]}")
    mode = stat.S_IMODE(os.stat(rec).st_mode)
    expect(mode == 0o600, f"the recording's mode is {mode:o}, want 600")
    expect(any("recorded" in line and "credentials" in line for line in probe.stderr_lines),
           "spanprobe record did not say what it recorded, and that it holds credentials")
    live_out = otlp.load(live)
    return live_out, *span_set(live_out)


def replay_elsewhere(ctx, rec, live_spans, live_shape):
    """replay_as_nobody from a directory nobody owns: no root, no BPF (the
    suite's scratch directory is root's alone, so one of its own in /tmp)."""
    rdir = tempfile.mkdtemp(prefix="spanprobe-replay-")
    try:
        replay_as_nobody(ctx, rec, rdir, live_spans, live_shape)
    finally:
        shutil.rmtree(rdir, ignore_errors=True)


@case
def record_replay(ctx):
    """spanprobe record FILE -- curl ... (over a second, so a clock re-sync
    is recorded); spanprobe replay FILE, unprivileged and without BPF, gives
    the live run's spans: names, kinds, attributes, resources, parent/child
    shape, start and end to the nanosecond."""
    if os.geteuid() != 0:
        raise Skip("needs root (to trace, and to replay as another user)")
    srv = ctx.servers()
    rec = os.path.join(ctx.dir, "run.rec")
    live = os.path.join(ctx.dir, "live.jsonl")
    urls = [srv.url("/delay?ms=1200"), srv.url("/status/404"), srv.url("/chunked?n=3&gap=20"),
            srv.url("/delay?ms=10", tls=False)]
    _, live_spans, live_shape = record(ctx, rec, live, curl(*urls), "curl")
    expect(len(live_spans) >= 1 + len(urls),
           f"the live run made {len(live_spans)} spans, want curl's root and {len(urls)} calls",
           live_spans)
    replay_elsewhere(ctx, rec, live_spans, live_shape)


@case
def record_replay_clients(ctx):
    """Issue 7: a recording of real clients, all to 127.0.0.1, in one
    command: python3 urllib over HTTPS and plain HTTP, node's https module,
    and curl streaming an OpenAI chat (SSE) from the fake LLM server over
    HTTPS. The replay, unprivileged and without BPF, gives the live run's
    spans exactly, the LLM span and both interpreters' process spans among
    them."""
    if os.geteuid() != 0:
        raise Skip("needs root (to trace, and to replay as another user)")
    srv = ctx.servers()
    llm = LLMServer(ctx)
    py_cfg = ctx.config([request(srv.url("/delay?ms=50")),
                         request(srv.url("/echo", tls=False), "POST", body="ping " * 50)])
    node_cfg = ctx.config([request(srv.url("/chunked?n=3&gap=20"))])
    body = chat_body("gpt-4o-mini", stream=True, stream_options={"include_usage": True})
    llm_argv = curl_post(ctx, llm.url(CHAT), body)
    # each client's answer to a file of its own: set -e makes any failure
    # the command's exit status, and the answers are checked after the run
    script = (f"set -e; {PYTHON} client.py {py_cfg} > py.out; {NODE} client.js {node_cfg} "
              f"> node.out; {shlex.join(llm_argv)} > llm.out")
    rec = os.path.join(ctx.dir, "run.rec")
    live = os.path.join(ctx.dir, "live.jsonl")
    live_out, live_spans, live_shape = record(ctx, rec, live, ["sh", "-c", script], "the clients")
    for name, want in (("py.out", [200, 200]), ("node.out", [200])):
        with open(os.path.join(ctx.dir, name)) as f:
            got = [r["status"] for r in json.loads(f.read().strip().splitlines()[-1])]
        expect(got == want, f"{name}: the client saw {got}, want {want}")
    with open(os.path.join(ctx.dir, "llm.out")) as f:
        expect("[DONE]" in f.read(), "curl did not read the whole LLM stream")

    for what, pred in (("python3", lambda s: os.path.realpath(
            str(s.attrs.get("process.executable.path"))) == os.path.realpath(PYTHON)),
                       ("node", lambda s: exe_base(s) == "node")):
        single_root(live_out, what, pred)
    llms = [s for s in live_spans if s.name.startswith("chat ")]
    expect(len(llms) == 1 and llms[0].attrs.get("gen_ai.usage.output_tokens") == STREAM_USAGE[1],
           f"the live run has {len(llms)} LLM spans named 'chat ...', want one with "
           f"gen_ai.usage.output_tokens {STREAM_USAGE[1]}", llms or live_spans)
    replay_elsewhere(ctx, rec, live_spans, live_shape)


def replay_as_nobody(ctx, rec, rdir, live_spans, live_shape):
    # a copy of the binary, in case the tree it was built in is root's only
    binary = os.path.join(rdir, "spanprobe")
    shutil.copy(ctx.suite.binary, binary)
    os.chmod(binary, 0o755)
    os.chmod(rdir, 0o755)
    shutil.copy(rec, os.path.join(rdir, "run.rec"))
    for p in (rdir, os.path.join(rdir, "run.rec")):
        os.chown(p, NOBODY, NOBODY)
    replayed = os.path.join(rdir, "replay.jsonl")
    rc, err = run_as_nobody(ctx, rdir, [binary, "replay", os.path.join(rdir, "run.rec"),
                                  "-o", replayed, "--no-console"])
    expect(rc == 0, f"spanprobe replay exited {rc}: {err.strip()[-400:]!r}")
    expect(READY not in err, f"spanprobe replay printed the BPF ready line: {err!r}")
    expect("replayed" in err and any(STATS_LINE.match(l) for l in err.splitlines()),
           f"spanprobe replay printed no 'replayed N frames' and stats lines: {err!r}")
    rep_out = otlp.load(replayed)
    rep_spans, rep_shape = span_set(rep_out)
    expect(not rep_out.problems, f"replay output problems: {rep_out.problems[:3]}")
    expect(len(rep_shape) == len(live_shape),
           f"replay made {len(rep_shape)} spans, the live run {len(live_shape)}", rep_spans)
    for i, (a, b) in enumerate(zip(live_shape, rep_shape)):
        diff = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
        expect(not diff, f"span {i} ({a['name']!r}) differs between the live run and the "
               f"replay: {diff}", [live_spans[i], rep_spans[i]])
    expect(not {s.span_id for s in live_spans} & {s.span_id for s in rep_spans},
           "replay reused the live run's span ids: it copied rather than rebuilt")

    # a recording cut short replays what it holds and says where it stopped
    cut = os.path.join(rdir, "cut.rec")
    with open(rec, "rb") as f:
        data = f.read()
    with open(cut, "wb") as f:
        f.write(data[:cut_inside_a_frame(data)])
    os.chown(cut, NOBODY, NOBODY)
    rc, err = run_as_nobody(ctx, rdir, [binary, "replay", cut, "-o",
                                  os.path.join(rdir, "cut.jsonl"), "--no-console"])
    expect(rc == 0, f"replay of a cut recording exited {rc}: {err.strip()[-400:]!r}")
    expect("ends inside a frame" in err and "1 truncated frame" in err,
           f"replay of a cut recording did not report the truncated frame: {err!r}")

    # not a recording: one line, exit 1
    rc, err = run_as_nobody(ctx, rdir, [binary, "replay", "/etc/hostname", "--no-console"])
    lines = err.strip().splitlines()
    expect(rc == 1 and len(lines) == 1 and "not a spanprobe recording" in lines[0],
           f"replay of a non-recording: exit {rc}, stderr {err!r}; want 1 and one line")

    # a damaged header (table sizes no run could have had): refused at
    # once, not a 2^31-entry table (header layout: capture/record.h, off 36)
    bad = os.path.join(rdir, "bad-size.rec")
    with open(bad, "wb") as f:
        f.write(data[:36] + (0x7FFFFFFF).to_bytes(4, "little") + data[40:])
    os.chown(bad, NOBODY, NOBODY)
    rc, err = run_as_nobody(ctx, rdir, [binary, "replay", bad, "-o", "/dev/null", "--no-console"])
    expect(rc == 1 and "is damaged" in err,
           f"replay of a recording with a damaged header: exit {rc}, stderr {err!r}; want 1")
