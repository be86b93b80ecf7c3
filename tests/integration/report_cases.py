# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""spanprobe report on a real traced run: the shell agent of agent_cases
(a fake LLM server, subprocess tools, a failing command, a rate-limited
call retried), recorded with -o, then reported; the numbers checked against
what the test itself saw (its model responses, its own clock)."""

import gzip
import json
import os
import shutil
import subprocess
import time

from agent_cases import SHELL_AGENT, AgentServer, in_trace, named, one, write
from cases import case
from checks import expect
from otlp import STATUS_ERROR


def report(ctx, *args):
    proc = subprocess.run([ctx.suite.binary, "report", *args], capture_output=True,
                          timeout=60, cwd=ctx.dir)
    expect(proc.returncode == 0,
           f"spanprobe report {' '.join(args)} exited {proc.returncode}: "
           f"{proc.stderr.decode(errors='replace')[-400:]}")
    return proc.stdout.decode(), proc.stderr.decode()


def usage_of(path):
    with open(path) as f:
        u = json.load(f).get("usage", {})
    return u.get("prompt_tokens", 0), u.get("completion_tokens", 0)


@case
def report_shell_agent(ctx):
    """report --json, text, --perfetto on a recorded shell-agent run: LLM
    calls, tokens, the failing span first in its propagation, the retry
    after it, wall time within the test's clock; a gzip copy and a
    duplicated file report the same."""
    srv = AgentServer(ctx)
    probe = ctx.probe()
    script = write(ctx, "shell-agent.sh", SHELL_AGENT, 0o755)
    t0 = time.time_ns()
    res = ctx.run(["/bin/sh", script, f"http://127.0.0.1:{srv.http_port}"])
    t1 = time.time_ns()
    expect(res.rc == 0, f"the agent exited {res.rc}: {res.stderr[-400:]}")
    out = probe.stop()
    root = one(named(out, "invoke_agent shell-agent.sh", res.pid),
               "invoke_agent shell-agent.sh span of the script", out.spans[:40])
    trace = in_trace(out, root)
    tid = root.trace_id
    in1, out1 = usage_of(os.path.join(ctx.dir, "r1.json"))
    in2, out2 = usage_of(os.path.join(ctx.dir, "r2.json"))
    expect(in1 + in2 > 0, "the fake model returned no usage")

    text, _ = report(ctx, probe.out, "--json", "--trace", tid[:12])
    doc = json.loads(text)
    expect(len(doc["traces"]) == 1 and doc["traces"][0]["id"] == tid,
           "--trace PREFIX does not select the agent's trace alone", [doc["traces"]])
    t = doc["traces"][0]
    expect(t["spans"] == len(trace), f"{t['spans']} spans reported, the trace has {len(trace)}")
    expect(len(doc["spans"]) == len(trace), "the span list is not the trace's spans")
    expect(t["llm_calls"] == 2, f"want the agent's 2 model calls, got {t['llm_calls']}", [t])
    expect(t["input_tokens"] == in1 + in2 and t["output_tokens"] == out1 + out2,
           f"tokens {t['input_tokens']}/{t['output_tokens']}, the server returned "
           f"{in1 + in2}/{out1 + out2}", [t])
    tools = [s for s in trace if s.name.startswith("execute_tool")]
    # every subprocess tool of this agent is under an execute_tool span; the
    # curls carrying its model calls are no tools
    expect(t["tool_calls"] == len(tools) >= 3,
           f"{t['tool_calls']} tool calls reported, the trace has {len(tools)} tool spans", [t])
    wall = int(t["end"]) - int(t["start"])
    expect(0 < wall <= t1 - t0 + 200_000_000, f"wall {wall} ns, the test saw {t1 - t0} ns", [t])
    parts = int(t["think_ns"]) + int(t["act_ns"]) + int(t["other_ns"])
    expect(parts == wall and int(t["think_ns"]) > 0 and int(t["act_ns"]) > 0,
           "think + act + other is not the wall time, or one is 0", [t])
    llm_total = sum(s.end - s.start for s in trace
                    if s.attrs.get("gen_ai.operation.name") == "chat")
    expect(int(t["think_ns"]) <= llm_total, "think exceeds the model calls' time", [t])

    errs = [s for s in trace if s.status_code == STATUS_ERROR]
    expect(errs, "the trace has no ERROR span", trace)
    first = min(errs, key=lambda s: (s.end, s.start))
    fails = doc["failures"]
    expect(len(fails) == 1 and fails[0]["first"]["id"] == first.span_id,
           f"the first failing span is not {first.name!r} ({first.span_id})", [fails])
    flaky = sorted([s for s in trace if s.attrs.get("url.path") == "/flaky" and s.kind == 3],
                   key=lambda s: s.start)
    if flaky and flaky[0].span_id == first.span_id:
        after = {a["id"]: a["fate"] for a in fails[0]["after"]}
        expect(after.get(flaky[1].span_id) == "retry", "the /flaky resend is not its retry",
               [fails])
    ops = {o["op"]: o for o in doc["operations"]}
    model = ops.get("model gpt-4o-mini")
    expect(model and model["count"] == 2 and int(model["max_ns"]) <= llm_total,
           "no 'model gpt-4o-mini' operation with 2 calls", [doc["operations"]])
    models = {m["model"]: m for m in doc["models"]}
    expect(models.get("gpt-4o-mini", {}).get("input_tokens") == in1 + in2, "tokens by model",
           [doc["models"]])

    # the terminal report: the tree and the sums
    text, _ = report(ctx, probe.out, "--trace", tid)
    expect("invoke_agent shell-agent.sh" in text and "2 LLM calls" in text
           and "first failure: " + first.name in text and "== latency by operation" in text,
           "the text report lacks the tree, the summary or the failure", [text[:2000]])

    # Perfetto: one X event per span, on the agent's process track
    pf = os.path.join(ctx.dir, "run.trace.json")
    report(ctx, probe.out, "--trace", tid, "--perfetto", pf)
    expect(os.stat(pf).st_mode & 0o777 == 0o600, "the Perfetto file is not 0600")
    with open(pf) as f:
        ev = json.load(f)["traceEvents"]
    xs = [e for e in ev if e["ph"] == "X"]
    expect(len(xs) == len(trace), f"{len(xs)} X events for {len(trace)} spans")
    expect(any(e["ph"] == "M" and e["name"] == "process_name" and e["pid"] == res.pid
               for e in ev), "no process_name track for the agent", ev[:10])
    for e in xs:
        expect(e["dur"] >= 0 and e["ts"] >= 0 and e["args"]["trace_id"] == tid,
               "a bad X event", [e])

    # a gzip copy, and the same file twice: the same report
    gz = os.path.join(ctx.dir, "copy.jsonl.gz")
    with open(probe.out, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    a, _ = report(ctx, probe.out, "--json", "--trace", tid)
    b, _ = report(ctx, gz, "--json", "--trace", tid)
    c, err = report(ctx, probe.out, gz, "--json", "--trace", tid)
    strip = lambda s: {k: v for k, v in json.loads(s).items() if k not in ("generated", "files")}
    da, db, dc = strip(a), strip(b), strip(c)
    dc["totals"]["duplicates"] = 0
    expect(da == db, "the gzip copy reports differently")
    expect(da == dc, "the file given twice reports differently")
    expect(json.loads(c)["totals"]["duplicates"] > 0 and "duplicate" in err,
           "no duplicates counted and said", [err])

    # --html: the real run's page loads in headless Chromium with no script
    # error and draws every span of the trace (html_cases has the browser)
    import html_cases
    page = os.path.join(ctx.dir, "run.html")
    report(ctx, probe.out, "--trace", tid, "--html", page)
    expect(os.stat(page).st_mode & 0o777 == 0o600, "the HTML page is not 0600")
    if html_cases.chromium_binary():
        dom, _ = html_cases.chromium(ctx, page, f"trace={tid}")
        marks = html_cases.body_marks(dom)
        expect(marks.get("errors") == "0", f"script errors on the real run's page: {marks}")
        expect(marks.get("rendered-spans") == str(len(trace)),
               f"the page drew {marks.get('rendered-spans')} of {len(trace)} spans", [marks])
        os.makedirs(html_cases.ARTIFACTS, exist_ok=True)
        html_cases.chromium(ctx, page, f"trace={tid}",
                            screenshot=os.path.join(html_cases.ARTIFACTS, "report-shell-agent.png"))
