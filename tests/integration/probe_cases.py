# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Function probes (--probe) and USDT probes (--usdt) on probe_target, a C
program built -O2 -g into build/tests/ (tests/integration/probe_target.c):
real uprobes, uretprobes and USDT probes; spans nested by call depth."""
import os
import subprocess
import time

import otlp
from cases import case
from checks import check_child, expect, no_problems, process_root
from cli_cases import replay_elsewhere, span_set
from harness import READY, Fail, Probe, ProbeUnavailable, Skip
from otlp import KIND_INTERNAL


def target(ctx):
    """build/tests/probe_target beside the spanprobe under test."""
    path = os.path.join(os.path.dirname(os.path.abspath(ctx.suite.binary)), "tests",
                        "probe_target")
    if not os.access(path, os.X_OK):
        raise Fail(f"{path} is missing (make integration builds it)")
    return path


def run_command(ctx, args, what):
    """spanprobe ARGS -- COMMAND to its end: (probe, exit status, output)."""
    probe = Probe(ctx, args)
    rc = probe.wait(90)
    if not probe.ready.is_set():
        if rc > 0:
            raise ProbeUnavailable(f"spanprobe exited {rc} before ready: {probe.stderr[-300:]!r}")
        raise Fail(f"spanprobe exited {rc} without printing {READY!r}")
    expect(rc == 0, f"{what}: spanprobe exited {rc}, want the command's 0")
    out = probe.output()
    no_problems(out)
    return probe, out


def named(out, name, pid):
    return [s for s in out.spans if s.name == name and s.pid == pid]


def children(out, parent, name=None):
    return [s for s in out.spans if s.parent_id == parent.span_id and s.trace_id == parent.trace_id
            and (name is None or s.name == name)]


def one_child(out, parent, name):
    kids = children(out, parent, name)
    expect(len(kids) == 1, f"want one {name!r} under {parent.name!r}, got {len(kids)}",
           kids + [parent] + children(out, parent))
    return kids[0]


def check_call(span, func, binary, pid, ret=None):
    a = span.attrs
    expect(span.kind == KIND_INTERNAL, f"{span.name!r} is not INTERNAL", [span])
    expect(a.get("code.function.name") == func,
           f"code.function.name {a.get('code.function.name')!r} != {func!r}", [span])
    expect(a.get("spanprobe.probe.binary") == binary,
           f"spanprobe.probe.binary {a.get('spanprobe.probe.binary')!r} != {binary!r}", [span])
    expect(a.get("thread.id") == pid, f"thread.id {a.get('thread.id')!r} != {pid}", [span])
    if ret is not None:
        got = a.get("spanprobe.probe.return_value")
        # an int comes back in eax: the upper half of rax is not the function's
        expect(isinstance(got, int) and got & 0xffffffff == ret & 0xffffffff,
               f"{span.name!r} return value {got!r}, want {ret}", [span])
        expect(not a.get("spanprobe.span.unfinished"), f"{span.name!r} marked unfinished", [span])


@case
def func_probe_nesting(ctx):
    """--probe on noinline functions: outer -> middle -> leaf nested three
    deep under the process span for each of 3 calls, recursion 4 deep, a
    tail call nested in its caller, and a function left by longjmp ended
    unfinished."""
    t = target(ctx)
    real = os.path.realpath(t)
    probes = ["outer", "middle", "leaf=leaf_fn", "recurse", "jumper", "tail_caller",
              "tail_callee"]
    args = [a for p in probes for a in ("--probe", f"{t}:{p}")]
    probe, out = run_command(ctx, args + ["--", t, "3"], "probe_target 3")
    expect("; 7 function probes" in probe.stderr, "the ready line does not count 7 probes")
    root = next((s for s in out.spans if s.attrs.get("process.executable.path") == real
                 and s.attrs.get("process.pid")), None)
    expect(root is not None, "no process span for probe_target", out.spans[:20])
    pid = root.attrs["process.pid"]
    root = process_root(out, pid)

    outers = sorted(named(out, "outer", pid), key=lambda s: s.start)
    expect(len(outers) == 3, f"want 3 outer spans, got {len(outers)}", outers or out.spans[:30])
    for i, outer in enumerate(outers):
        x = i + 2  # outer(i) -> middle(i + 1) -> leaf(i + 2)
        check_child(outer, root)
        check_call(outer, "outer", real, pid, ret=3 * x + 2)
        expect(outer.attrs.get("spanprobe.probe.arg0") == i,
               f"outer #{i}: first argument {outer.attrs.get('spanprobe.probe.arg0')!r}", [outer])
        middle = one_child(out, outer, "middle")
        check_child(middle, outer)
        check_call(middle, "middle", real, pid, ret=3 * x + 1)
        leaf = one_child(out, middle, "leaf_fn")
        check_child(leaf, middle)
        check_call(leaf, "leaf", real, pid, ret=3 * x)
        expect(not children(out, leaf), "leaf has children without --usdt", children(out, leaf))

    # recurse(3): four frames of one function, each inside the last
    tops = [s for s in named(out, "recurse", pid) if s.parent_id == root.span_id]
    expect(len(tops) == 1, f"want one outermost recurse span, got {len(tops)}",
           named(out, "recurse", pid))
    span, depth = tops[0], 3
    while True:
        check_call(span, "recurse", real, pid, ret=depth)
        kids = children(out, span, "recurse")
        if depth == 0:
            expect(not kids, "recurse(0) has a recurse child", kids)
            break
        expect(len(kids) == 1, f"recurse({depth}) has {len(kids)} recurse children", kids + [span])
        check_child(kids[0], span)
        span, depth = kids[0], depth - 1
    expect(len(named(out, "recurse", pid)) == 4, "want 4 recurse spans",
           named(out, "recurse", pid))

    caller = named(out, "tail_caller", pid)
    expect(len(caller) == 1, f"want one tail_caller span, got {len(caller)}", caller)
    check_child(caller[0], root)
    check_call(caller[0], "tail_caller", real, pid, ret=102)
    callee = one_child(out, caller[0], "tail_callee")
    check_call(callee, "tail_callee", real, pid, ret=102)

    jumper = named(out, "jumper", pid)
    expect(len(jumper) == 1, f"want one jumper span, got {len(jumper)}", jumper)
    check_child(jumper[0], root)
    check_call(jumper[0], "jumper", real, pid)
    expect(jumper[0].attrs.get("spanprobe.span.unfinished") is True
           and "spanprobe.probe.return_value" not in jumper[0].attrs,
           "the function left by longjmp is not marked unfinished (or has a return value)",
           jumper)
    # it ended when the next call at its depth began: before recurse did
    expect(jumper[0].end <= tops[0].start, "the longjmp'd frame outlived the next call",
           jumper + tops)
    want = 3 * 3 + 4 + 2 + 1
    expect(len([s for s in out.spans if s.pid == pid and s is not root]) == want,
           f"want {want} function spans", [s for s in out.spans if s.pid == pid])


@case
def usdt_probe(ctx):
    """--usdt: each hit is a zero-length INTERNAL span with its arguments,
    a child of the probed function it fired in, or of the process span; a
    probe's semaphore is raised while it is attached."""
    t = target(ctx)
    real = os.path.realpath(t)
    probe, out = run_command(ctx, ["--probe", f"{t}:leaf",
                                   "--usdt", f"{t}:spanprobe_test:leaf_hit",
                                   "--usdt", f"{t}:spanprobe_test:done",
                                   "--usdt", f"{t}:spanprobe_test:guarded", "--", t, "2"],
                             "probe_target 2")
    leaves = sorted([s for s in out.spans if s.name == "leaf"], key=lambda s: s.start)
    expect(len(leaves) == 2, f"want 2 leaf spans, got {len(leaves)}", out.spans[:20])
    pid = leaves[0].pid
    root = process_root(out, pid)
    for i, leaf in enumerate(leaves):
        x = i + 2
        check_child(leaf, root)
        hit = one_child(out, leaf, "spanprobe_test:leaf_hit")
        a = hit.attrs
        expect(hit.kind == KIND_INTERNAL and hit.start == hit.end,
               "a USDT span is not a zero-length INTERNAL span", [hit])
        expect(a.get("spanprobe.usdt.provider") == "spanprobe_test"
               and a.get("spanprobe.usdt.name") == "leaf_hit"
               and a.get("spanprobe.probe.binary") == real and a.get("thread.id") == pid,
               "USDT span attributes", [hit])
        expect(a.get("spanprobe.usdt.args_count") == 2 and a.get("spanprobe.usdt.arg0") == x
               and a.get("spanprobe.usdt.arg1") == 2 * x and "spanprobe.usdt.arg2" not in a,
               f"leaf_hit #{i}: want arguments ({x}, {2 * x})", [hit])
        check_child(hit, leaf)
    done = [s for s in out.spans if s.name == "spanprobe_test:done"]
    expect(len(done) == 1, f"want one done span, got {len(done)}", done)
    check_child(done[0], root)
    # main prints the sum the probe carries
    res = subprocess.run([t, "2"], capture_output=True, text=True, timeout=30)
    expect(done[0].attrs.get("spanprobe.usdt.arg0") == int(res.stdout.split()[-1])
           and done[0].attrs.get("spanprobe.usdt.args_count") == 1,
           f"done's argument is not the sum {res.stdout.strip()}", done)
    # a probe with a semaphore fires only while a tracer holds it raised
    guarded = [s for s in out.spans if s.name == "spanprobe_test:guarded"]
    expect(len(guarded) == 1 and guarded[0].attrs.get("spanprobe.usdt.arg0") == 1,
           "the semaphore-guarded probe did not fire once with its semaphore at 1", guarded)
    check_child(guarded[0], root)


@case
def func_probe_filter(ctx):
    """Probes are attached system-wide but trace only what the filter lets
    through: the same binary run outside the traced command makes no spans."""
    t = target(ctx)
    probe = Probe(ctx, ["--probe", f"{t}:outer", "--", "sh", "-c", f"sleep 1; {t} 1"])
    probe.wait_ready()
    other = subprocess.run([t, "4"], capture_output=True, timeout=30)
    expect(other.returncode == 0, f"the untraced probe_target exited {other.returncode}")
    rc = probe.wait(60)
    expect(rc == 0, f"spanprobe exited {rc}")
    out = probe.output()
    outers = [s for s in out.spans if s.name == "outer"]
    expect(len(outers) == 1, f"want the traced command's one outer span, got {len(outers)} "
           "(the untraced run's calls leaked in?)", outers)


@case
def func_probe_errors(ctx):
    """A missing binary or symbol, or a name two functions share, is one
    clear line and exit 1 before anything is traced or written."""
    t = target(ctx)
    out = os.path.join(ctx.dir, "never.jsonl")
    twins = sorted(int(line.split()[0], 16) for line in subprocess.run(
        ["nm", t], capture_output=True, text=True, check=True).stdout.splitlines()
        if line.endswith(" twin"))
    expect(len(twins) == 2, f"probe_target should have two static twin functions: {twins}")
    for arg, flag, want in (
            (f"{t}:no_such_function", "--probe", ["symbol not found", "nm -D"]),
            (f"{t}:twin", "--probe", ["2 symbols named twin"] +
             [f"at {a:#x} in .text" for a in twins] + [f"{t}:0x"]),
            ("/no/such/binary:main", "--probe", ["/no/such/binary", "No such file"]),
            (f"{t}:spanprobe_test:nope", "--usdt", ["no USDT probe spanprobe_test:nope",
                                                    "spanprobe_test:leaf_hit"])):
        started = time.monotonic()
        rc, err = ctx.run_to_end([ctx.suite.binary, "-o", out, flag, arg, "--", t], 30,
                                 f"spanprobe {flag} {arg}")
        lines = err.strip().splitlines()
        expect(rc == 1, f"{flag} {arg}: exit status {rc}, want 1 ({err!r})")
        expect(len(lines) == 1 and lines[0].startswith(f"spanprobe: error: cannot probe {arg}: ")
               and all(w in lines[0] for w in want),
               f"{flag} {arg}: want one line saying {want}, got {err!r}")
        expect(time.monotonic() - started < 5, f"{flag} {arg}: the error took BPF's start-up time")
        expect(not os.path.exists(out), f"{flag} {arg}: {out} was created")
    # a twin named by its address is probed (twin_b's: linked second, so the higher address)
    probe, spans = run_command(ctx, ["--probe", f"{t}:{twins[1]:#x}=second_twin", "--", t, "1"],
                               "a twin by address")
    got = [s for s in spans.spans if s.name == "second_twin"]
    expect(len(got) == 1 and got[0].attrs.get("code.function.name") == "twin"
           and got[0].attrs.get("spanprobe.probe.return_value") == 21,
           "the twin named by address (twin_b's, which adds 20) did not give one span", got)


@case
def func_probe_record_replay(ctx):
    """A recording names its probes (SP_FUNC_DEFINE records), so spanprobe
    replay FILE, unprivileged and with no binary to read, gives the live
    run's function and USDT spans exactly."""
    if os.geteuid() != 0:
        raise Skip("needs root (to trace, and to replay as another user)")
    t = target(ctx)
    rec = os.path.join(ctx.dir, "run.rec")
    live = os.path.join(ctx.dir, "live.jsonl")
    probe = Probe(ctx, ["record", rec, "-o", live, "--no-console", "--probe", f"{t}:outer",
                        "--probe", f"{t}:leaf=leaf_fn", "--usdt", f"{t}:spanprobe_test:leaf_hit",
                        "--", t, "2"], output=False)
    probe.wait_ready()
    rc = probe.wait(90)
    expect(rc == 0, f"spanprobe record exited {rc}: {probe.stderr_lines[-5:]}")
    live_spans, live_shape = span_set(otlp.load(live))
    names = sorted(s.name for s in live_spans)
    expect(names.count("outer") == 2 and names.count("leaf_fn") == 2
           and names.count("spanprobe_test:leaf_hit") == 2,
           f"the live run's spans are {names}", live_spans)
    replay_elsewhere(ctx, rec, live_spans, live_shape)
