# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The HTML waterfall page (`spanprobe report --html`) in headless Chromium.

The test writes a report data document itself (the schema of
userspace/report/waterfall.js): a small agent run (an agent, LLM calls, tools
with a subprocess, an HTTP call that fails then succeeds on a retry, an MCP
call, a failed LLM call and its fallback, a span whose parent is missing)
and 10,000 synthetic spans in a second trace; a span name carries
"</script><script>...", so the page must survive it. build/tests/html_page
(sp_report_html on a JSON file) turns it into the page; Chromium loads the
page from a file with the network off, runs it, and the test reads back
what the page wrote on <body> (--dump-dom):
- data-errors="0": no script error;
- data-rendered-spans: rows of the page's row model placed on the time axis
  (all subtrees open) = every span of the trace, and data-overview-spans the
  bars drawn on the overview canvas; the DOM holds only the rows in view
  (virtual scrolling), so "&selftest=1" makes the page scroll through every
  row: data-selftest-seen counts the distinct spans that were in the DOM,
  data-selftest-bars those drawn with a bar, and it drives collapse/expand,
  the search box, the arrow keys and a zoom.
The screenshots stay in build/test-artifacts/.

Registered in cases.CASES, so run.py runs them with the others.
"""
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time

from cases import case
from checks import expect
from harness import REPO, Skip

PAGE_MAKER = os.path.join(REPO, "build", "tests", "html_page")
ARTIFACTS = os.path.join(REPO, "build", "test-artifacts")
CHROMIUM_TIMEOUT = 90
WINDOW = "1600,1000"
EVIL = "</script><script>alert(1)</script>"
BASE_NS = 1764662400000000000  # 2025-12-02 08:00:00 UTC

AGENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
BIG_TRACE = "0af7651916cd43dd8448eb211c80319c"
BIG_SPANS = 10000


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


# ---- the data document ----
def ns(offset_ms):
    return str(BASE_NS + int(round(offset_ms * 1e6)))


def resource(pid, exe):
    return {"service.name": "spanprobe", "process.pid": pid, "process.executable.name": exe,
            "host.name": "laptop", "telemetry.sdk.name": "spanprobe"}


def span(trace, sid, parent, name, cls, start_ms, end_ms, kind="INTERNAL", status="UNSET",
         message="", attrs=None, events=(), res=None, orphan=False):
    return {"trace": trace, "id": sid, "parent": parent, "orphan": orphan, "name": name,
            "kind": kind, "class": cls, "start": ns(start_ms), "end": ns(end_ms),
            "status": status, "status_message": message, "attrs": attrs or {},
            "events": [{"name": n, "time": ns(t), "attrs": a} for n, t, a in events],
            "resource": res or resource(4242, "python3")}


def llm(sid, parent, start, end, model="gpt-4o", tin=400, tout=120, status="UNSET", message="",
        http_status=200):
    return span(AGENT_TRACE, sid, parent, f"chat {model}", "llm", start, end, kind="CLIENT",
                status=status, message=message,
                attrs={"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                       "gen_ai.request.model": model, "gen_ai.response.model": model,
                       "gen_ai.usage.input_tokens": tin, "gen_ai.usage.output_tokens": tout,
                       "gen_ai.request.stream": True, "http.response.status_code": http_status,
                       "server.address": "127.0.0.1", "server.port": 8443},
                events=[("gen_ai.first_token", start + (end - start) * 0.2, {})])


def agent_spans():
    """A 12 s agent run, the kinds of span spanprobe makes for one."""
    t, a = AGENT_TRACE, "00f067aa0ba902b7"
    out = [
        span(t, a, "", "invoke_agent agent.py", "agent", 0, 12000,
             attrs={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "agent.py",
                    "gen_ai.conversation.id": "conv-7f3a", "process.command_line": "python3 agent.py"}),
        llm("a1000000000000a1", a, 100, 1900, tin=512, tout=96),
        span(t, "a1000000000000b1", a, "execute_tool read_file", "tool", 1950, 2300,
             attrs={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "read_file",
                    "gen_ai.tool.call.id": "call_1", "gen_ai.tool.call.arguments": '{"path": "notes.md"}'}),
        span(t, "a1000000000000b2", "a1000000000000b1", "cat notes.md", "process", 1980, 2250,
             attrs={"process.pid": 4300, "process.parent_pid": 4242, "process.executable.name": "cat",
                    "process.command_line": "cat notes.md", "process.exit.code": 0},
             res=resource(4300, "cat")),
        llm("a1000000000000a2", a, 2350, 4100, tin=1900, tout=210),
        span(t, "a1000000000000c1", a, "execute_tool fetch_weather", "tool", 4150, 6200,
             attrs={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "fetch_weather",
                    "gen_ai.tool.call.id": "call_2"},
             events=[("retry", 4900, {"attempt": 2})]),
        span(t, "a1000000000000c2", "a1000000000000c1", "GET", "http", 4160, 4880, kind="CLIENT",
             status="ERROR", message="HTTP 503",
             attrs={"http.request.method": "GET", "url.full": "http://127.0.0.1:9000/weather?city=Oslo",
                    "http.response.status_code": 503, "error.type": "503"}),
        span(t, "a1000000000000c3", "a1000000000000c1", "GET", "http", 4900, 6150, kind="CLIENT",
             attrs={"http.request.method": "GET", "url.full": "http://127.0.0.1:9000/weather?city=Oslo",
                    "http.response.status_code": 200}),
        span(t, "a1000000000000d1", a, "tools/call search_docs", "mcp", 6250, 7900, kind="CLIENT",
             attrs={"mcp.method.name": "tools/call", "gen_ai.tool.name": "search_docs",
                    "mcp.session.id": "5d2c", "network.transport": "pipe",
                    "gen_ai.operation.name": "execute_tool"}),
        span(t, "a1000000000000d2", "a1000000000000d1", "tools/call search_docs", "mcp", 6300, 7850,
             kind="SERVER", attrs={"mcp.method.name": "tools/call", "gen_ai.tool.name": "search_docs"},
             res=resource(4310, "node")),
        llm("a1000000000000a3", a, 8000, 8600, status="ERROR", message="HTTP 429: rate limited",
            tin=2400, tout=0, http_status=429),
        llm("a1000000000000a4", a, 8650, 11200, model="gpt-4o-mini", tin=2400, tout=380),
        span(t, "a1000000000000e1", a, "execute_tool write_report " + EVIL, "tool", 11250, 11900,
             attrs={"gen_ai.tool.name": "write_report", "note": EVIL, "line.sep": "a\u2028b\u2029c"}),
        span(t, "a1000000000000f1", "ffffffffffff0001", "execute_tool late_callback", "tool",
             11500, 11700, orphan=True, attrs={"gen_ai.tool.name": "late_callback"}),
    ]
    return out


def big_spans():
    """10,000 spans over 60 s: an agent and ~690 turns of an LLM call, then
    3 to 6 tools, each with a subprocess and an HTTP call; a few errors."""
    rng = random.Random(10)
    t, out = BIG_TRACE, []
    root = "b000000000000000"
    out.append(span(t, root, "", "invoke_agent load-test", "agent", 0, 60400))
    ids = iter(range(1, 2 * BIG_SPANS))
    turn_ms = 60000 / 690

    def add(parent, name, cls, start, end, kind="INTERNAL"):
        sid = next(ids)
        out.append(span(t, f"b{sid:015x}", parent, name, cls, start, end, kind=kind,
                        status="ERROR" if sid % 997 == 0 else "UNSET",
                        message="exit status 1" if sid % 997 == 0 else ""))
        return out[-1]["id"]

    turn = 0
    while len(out) < BIG_SPANS:
        start = turn * turn_ms
        add(root, f"chat model-{turn % 3}", "llm", start, start + 25 + rng.random() * 20, kind="CLIENT")
        for k in range(rng.randint(3, 6)):
            if len(out) + 3 > BIG_SPANS:
                break
            ts = start + 48 + k * 6
            tool = add(root, f"execute_tool step_{k}", "tool", ts, ts + 5)
            add(tool, f"sh -c step_{k}", "process", ts + 0.2, ts + 2.2)
            add(tool, "POST /api/step", "http", ts + 2.5, ts + 4.8, kind="CLIENT")
        turn += 1
    while len(out) < BIG_SPANS:
        add(root, "chat model-final", "llm", 60200, 60390, kind="CLIENT")
    out.sort(key=lambda s: int(s["start"]))
    return out


def summary(trace_id, spans, **extra):
    errs = sum(1 for s in spans if s["status"] == "ERROR")
    start = min(int(s["start"]) for s in spans)
    end = max(int(s["end"]) for s in spans)
    out = {"id": trace_id, "name": spans[0]["name"], "start": str(start), "end": str(end),
           "spans": len(spans), "errors": errs,
           "llm_calls": sum(1 for s in spans if s["class"] == "llm"),
           "tool_calls": sum(1 for s in spans if s["class"] == "tool")}
    out.update(extra)
    return out


def document():
    agent = agent_spans()
    agent.sort(key=lambda s: int(s["start"]))
    big = big_spans()
    return {
        "generated": "2026-12-02T08:00:00Z", "files": ["run.jsonl"],
        "traces": [
            summary(AGENT_TRACE, agent, input_tokens=7612, output_tokens=806, cost_usd=0.0281,
                    think_ns="6600000000", act_ns="4650000000", other_ns="750000000"),
            summary(BIG_TRACE, big, input_tokens=0, output_tokens=0, cost_usd=0,
                    think_ns="21000000000", act_ns="30000000000", other_ns="9000000000"),
        ],
        "spans": agent + big,
    }


# ---- the page in Chromium ----
def make_page(ctx, doc, title):
    if not os.access(PAGE_MAKER, os.X_OK):
        raise Skip(f"{PAGE_MAKER} is missing (make build/tests/html_page)")
    data = os.path.join(ctx.dir, "report.json")
    page = os.path.join(ctx.dir, "report.html")
    with open(data, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    rc, err = ctx.run_to_end([PAGE_MAKER, data, page, title], 30, "html_page")
    expect(rc == 0, f"html_page exited {rc}: {err.strip()}")
    with open(page, encoding="utf-8") as f:
        html = f.read()
    # the embedded data ends nowhere but at its own </script>
    expect(html.count("</script>") == 2, "the page has a </script> besides its two scripts")
    for url in re.findall(r'(?:src|href)\s*=\s*["\']?([^"\'\s>]+)', html):
        expect(not re.match(r"(https?:)?//", url), f"the page loads {url}")
    return page


def chromium(ctx, page, fragment, *, screenshot=None):
    """Runs headless Chromium on page#fragment, returns (dump of the DOM,
    wall seconds); with screenshot, writes a PNG there instead."""
    browser = chromium_binary()
    if not browser:
        raise Skip("chromium is not installed (tests/install-deps.sh installs it)")
    profile = tempfile.mkdtemp(prefix="chromium-", dir=ctx.dir)
    argv = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
            f"--user-data-dir={profile}", f"--window-size={WINDOW}", "--virtual-time-budget=3000"]
    argv += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    argv.append("file://" + page + "#" + fragment)
    started = time.monotonic()
    # no network at all: a page that reached out would fail to, visibly
    proc = ctx.spawn(["unshare", "--net", "--"] + argv, stdin=subprocess.DEVNULL,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Exception(f"chromium did not finish within {CHROMIUM_TIMEOUT} s")
    took = time.monotonic() - started
    expect(proc.returncode == 0, f"chromium exited {proc.returncode}: {err.decode(errors='replace')[-800:]}")
    return out.decode(errors="replace"), took


def body_marks(dom):
    m = re.search(r"<body([^>]*)>", dom)
    expect(m, f"no <body> in the DOM dump: {dom[:300]!r}")
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', m.group(1)))


def check_page(marks, trace, spans, what):
    expect(marks.get("errors") == "0",
           f"{what}: script errors: {marks.get('errors')} ({marks.get('error-text', '')[:400]})")
    expect("data-error" not in marks, f"{what}: the data did not load: {marks.get('data-error')}")
    expect(marks.get("trace") == trace, f"{what}: drew trace {marks.get('trace')}, want {trace}")
    want = str(len(spans))
    for key in ("trace-spans", "rendered-spans", "overview-spans", "selftest-seen", "selftest-bars",
                "selftest-expanded"):
        expect(marks.get(key) == want, f"{what}: data-{key}={marks.get(key)}, want {want} (marks {marks})")
    roots = sum(1 for s in spans if not s["parent"] or s["orphan"])
    expect(marks.get("selftest-collapsed") == str(roots),
           f"{what}: collapsed to {marks.get('selftest-collapsed')} rows, want the {roots} top-level spans")
    expect(marks.get("selftest-search-hits") == marks.get("selftest-search-want") != "0",
           f"{what}: search found {marks.get('selftest-search-hits')}, want {marks.get('selftest-search-want')}")
    expect(marks.get("selftest-key-sel") == "1", f"{what}: ArrowDown selected row {marks.get('selftest-key-sel')}")
    expect(int(marks.get("selftest-zoom-ticks", "0")) >= 3, f"{what}: a zoomed axis has "
           f"{marks.get('selftest-zoom-ticks')} tick labels")
    expect(marks.get("selftest-enter-rows") == str(roots),
           f"{what}: Enter on the root left {marks.get('selftest-enter-rows')} rows, want {roots}")
    expect(marks.get("selftest-click-sel") == "2", f"{what}: a click on row 2 selected {marks.get('selftest-click-sel')}")
    expect(marks.get("selftest-drag-zoom") == "1", f"{what}: a drag on the timeline did not zoom to it")
    expect(marks.get("selftest-dblclick-reset") == "1", f"{what}: a double-click did not reset the zoom")
    dom_rows = int(marks.get("dom-rows", "0"))
    expect(0 < dom_rows <= min(len(spans), 100), f"{what}: {dom_rows} rows in the DOM (virtual scrolling)")


def run_trace(ctx, page, trace, spans, shot_name):
    dom, took = chromium(ctx, page, f"trace={trace}&selftest=1")
    marks = body_marks(dom)
    check_page(marks, trace, spans, shot_name)
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, shot_name)
    chromium(ctx, page, f"trace={trace[:8]}&span={spans[min(len(spans) - 1, 6)]['id']}", screenshot=shot)
    expect(os.path.getsize(shot) > 10000, f"{shot} is {os.path.getsize(shot)} bytes")
    print(f"  {shot_name}: {len(spans)} spans, first render {marks.get('render-ms')} ms after "
          f"navigation (script {marks.get('script-ms')} ms); a screenful "
          f"{marks.get('selftest-scroll-ms')} ms, collapse/expand all {marks.get('selftest-collapse-ms')}/"
          f"{marks.get('selftest-expand-ms')} ms, a search {marks.get('selftest-search-ms')} ms; "
          f"chromium {took:.1f} s; {shot}")
    return marks


@case
def html_waterfall(ctx):
    """The agent run's page: every span drawn, the escape rule held, the
    orphan and the errors shown; no script error."""
    doc = document()
    page = make_page(ctx, doc, "agent.py " + EVIL)
    spans = [s for s in doc["spans"] if s["trace"] == AGENT_TRACE]
    run_trace(ctx, page, AGENT_TRACE, spans, "html-waterfall.png")
    dom, _ = chromium(ctx, page, f"trace={AGENT_TRACE}&span=a1000000000000e1")
    expect(EVIL.replace("<", "&lt;").replace(">", "&gt;") in dom,
           "the span name with </script> is not shown as text in the details panel")
    expect("<script>alert(1)" not in dom, "the span name became markup")
    for text in ("orphan", "HTTP 503"):
        expect(text in dom, f"the page does not show {text!r}")


@case
def html_waterfall_10k(ctx):
    """10,000 spans in one trace: all in the model, all reach the DOM when
    scrolled to, the first render in well under a second."""
    doc = document()
    page = make_page(ctx, doc, "load test")
    spans = [s for s in doc["spans"] if s["trace"] == BIG_TRACE]
    expect(len(spans) == BIG_SPANS, f"the generator made {len(spans)} spans")
    marks = run_trace(ctx, page, BIG_TRACE, spans, "html-waterfall-10k.png")
    script_ms = float(marks.get("script-ms", "inf"))
    expect(script_ms < 2000, f"the page's script took {script_ms} ms to draw 10,000 spans")
