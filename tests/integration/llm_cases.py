# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""LLM-call tests: real clients (curl, /usr/bin/python3, node's fetch) call
the fake LLM API server (llm_server.py, bodies written from each provider's
API reference) while spanprobe traces the host; the tests check the LLM span
spanprobe adds under each recognised HTTP exchange: its place in the tree,
name, GenAI and OpenInference attributes, events, status, cost, and what it
must never contain (credentials; content under --no-content).

Spans are selected by the client's pid and the server's port. The expected
values come from llm_server.py's constants, so the server and the assertions
cannot drift apart. Registered in cases.CASES, so run.py runs them with the
others."""
import json
import os
import shutil

import llm_server as S
from cases import case, traffic
from checks import (NEST_SLACK_NS, check_child, check_http, check_root, check_trace_root,
                    expect, no_problems, of_pid, only, process_root)
from harness import HERE, NODE, PYTHON, Fail, ProbeUnavailable, Servers
from otlp import KIND_SERVER, KIND_CLIENT, STATUS_ERROR, attributes

# USD per million tokens (input, output), from the contract's price table
PRICES = {"gpt-4o-mini": (0.15, 0.60), "claude-3-5-haiku-20241022": (0.80, 4.00)}
COST_TOLERANCE = 1e-9
FLOAT_TOLERANCE = 1e-9
FIRST_CHUNK_MS = 300
TTFC_MAX = 3.0  # seconds: generous upper bound for a loaded VM
EVENT_SLACK_NS = 100_000_000  # first-chunk event time vs. time_to_first_chunk
SECRET = "SECRET"  # in every credential the clients send; never in the output

PRESENT = object()  # check_attrs: any non-empty value
ABSENT = object()   # check_attrs: the key must not be there

CHAT = "/v1/chat/completions"


# ---- the fake LLM server ----
class LLMServer(Servers):
    """llm_server.py in its own process: pid, http_port, https_port."""

    def __init__(self, ctx):
        super().__init__(ctx, "llm_server.py", "the fake LLM server")


def llm_setup(ctx, *probe_args):
    """The fake LLM server, and spanprobe tracing the host (with
    probe_args: through probe_with, so an unknown flag fails the test)."""
    srv = LLMServer(ctx)
    return srv, probe_with(ctx, *probe_args) if probe_args else ctx.probe()


# ---- clients ----
def write(ctx, name, text):
    with open(os.path.join(ctx.dir, name), "w") as f:
        f.write(text)
    return name


def curl_post(ctx, url, body, headers=(), extra=()):
    """curl POSTing body (exact bytes, from a file) and printing the answer.
    The body file is named after the test's config count, like ctx.config."""
    ctx.configs += 1
    name = write(ctx, f"body{ctx.configs}.json", body)
    argv = ["curl", "-sSk", "--data-binary", f"@{name}", "-H", "Content-Type: application/json"]
    for h in headers:
        argv += ["-H", h]
    return argv + list(extra) + [url]


def run_curl_post(ctx, url, body, headers=(), extra=()):
    res = ctx.run(curl_post(ctx, url, body, headers, extra))
    expect(res.rc == 0, f"curl exited {res.rc}: {res.stderr.strip()[-400:]}")
    return res


def llm_request(url, body, headers=None):
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    return {"method": "POST", "url": url, "body": body, "headers": hdrs}


def client_config(ctx, requests, keepalive=False, parallel=False):
    ctx.configs += 1
    return write(ctx, f"llm{ctx.configs}.json",
                 json.dumps({"keepalive": keepalive, "parallel": parallel, "requests": requests}))


def copy_client(ctx, name):
    shutil.copy(os.path.join(HERE, "clients", name), ctx.dir)
    return name


def run_python_llm(ctx, requests, keepalive=False):
    """clients/llm_client.py under /usr/bin/python3 (urllib, or one
    http.client connection); returns (Result, the answers it printed)."""
    script = copy_client(ctx, "llm_client.py")
    res = ctx.run([PYTHON, script, client_config(ctx, requests, keepalive)])
    return res, answers(res)


def run_node_fetch(ctx, requests, parallel=False):
    """clients/llm_fetch.mjs under node (built-in fetch). Nothing waits for
    spanprobe to attach to node first: node's first request goes out ~60 ms
    after exec, and it must be seen all the same."""
    script = copy_client(ctx, "llm_fetch.mjs")
    res = ctx.run([NODE, script, client_config(ctx, requests, parallel=parallel)],
                  env={"NODE_TLS_REJECT_UNAUTHORIZED": "0", "NODE_NO_WARNINGS": "1"})
    return res, answers(res)


def answers(res):
    if res.rc != 0:
        raise Fail(f"client pid {res.pid} exited {res.rc}: {res.stderr.strip()[-400:]}")
    try:
        return json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as err:
        raise Fail(f"client pid {res.pid} printed no results ({err}): {res.stdout[-400:]!r}")


def expect_answers(got, statuses):
    expect([a["status"] for a in got] == statuses,
           f"the client saw statuses {[a['status'] for a in got]}, want {statuses}: "
           f"{[a['text'][:200] for a in got]}")


# ---- span events (otlp.Span has none: read them from the file) ----
class Event:
    def __init__(self, name, time_ns, attrs):
        self.name, self.time, self.attrs = name, time_ns, attrs

    def __repr__(self):
        return f"Event({self.name!r}, t={self.time}, {self.attrs!r})"


def span_events(out):
    """{spanId: [Event]} from the raw OTLP JSON lines."""
    events, problems = {}, []
    for n, text in enumerate(out.text.splitlines(), 1):
        try:
            obj = json.loads(text)
        except ValueError:
            continue  # otlp.load has reported it already
        for rs in obj.get("resourceSpans") or []:
            for ss in rs.get("scopeSpans") or []:
                for raw in ss.get("spans") or []:
                    for i, ev in enumerate(raw.get("events") or []):
                        where = f"line {n} span {raw.get('spanId')} events[{i}]"
                        t = ev.get("timeUnixNano")
                        if not (isinstance(t, str) and t.isdigit()):
                            problems.append(f"{where}: timeUnixNano {t!r} is not a decimal string")
                            t = "0"
                        events.setdefault(raw.get("spanId"), []).append(
                            Event(ev.get("name"), int(t),
                                  attributes(ev.get("attributes"), where, problems)))
    expect(not problems, f"span event encoding problems: {'; '.join(problems[:5])}")
    return events


def events_named(out, span, name):
    return [e for e in span_events(out).get(span.span_id, []) if e.name == name]


def events_brief(out, span):
    return f"events of {span.name!r}: {span_events(out).get(span.span_id, [])!r}"


# ---- selection and the common checks ----
def is_llm(span):
    """A model call's span (not an agent's or a tool's, which carry gen_ai.*
    too)."""
    return (span.attrs.get("openinference.span.kind") in ("LLM", "EMBEDDING")
            or span.attrs.get("gen_ai.operation.name") in (
                "chat", "text_completion", "embeddings", "generate_content"))


def http_exchange(out, pid, port, path, window, status=200, min_ms=0):
    """The one HTTP CLIENT span pid made for POST path on port, checked
    against the HTTP contract and hung under the process's root span. (LLM
    spans may carry server.port too: they are told apart by their gen_ai.*
    attributes.)"""
    no_problems(out)
    root = process_root(out, pid)
    check_root(root, pid, exit_code=0)
    check_trace_root(root, out)
    spans = [s for s in of_pid(out, pid) if s.kind == KIND_CLIENT and not is_llm(s)
             and s.attrs.get("server.port") == port and s.attrs.get("url.path") == path]
    http = only(spans, f"HTTP CLIENT span POST {path} from pid {pid} to port {port}",
                of_pid(out, pid))
    check_http(http, kind=KIND_CLIENT, method="POST", path=path, status=status, port=port,
               min_ms=min_ms)
    check_child(http, root)
    window.check(http)
    return http


def llm_exchange(out, pid, port, path, window, status=200, min_ms=0):
    """(HTTP span, its LLM span): exactly one child of the HTTP span, CLIENT,
    same trace, same start and end."""
    # otlp.load decodes with errors="replace": bytes that are not UTF-8 (a
    # multi-byte character cut by a truncation) show up as U+FFFD, which no
    # test sends (only this pid's spans: the probe sees the whole host)
    bad = [(s, k, v) for s in of_pid(out, pid) for k, v in s.attrs.items()
           if isinstance(v, str) and "\ufffd" in v]
    expect(not bad, f"U+FFFD (a replaced or undecodable byte) in pid {pid}'s spans: " + "; ".join(
        f"{s.name!r} {k} ({len(v.encode())} bytes) has it at char {v.index(chr(0xfffd))} of "
        f"{len(v)}, ...{v[max(0, v.index(chr(0xfffd)) - 20):v.index(chr(0xfffd)) + 4]!r}"
        for s, k, v in bad[:4]), [s for s, _, _ in bad[:4]])
    http = http_exchange(out, pid, port, path, window, status, min_ms)
    # (the fake server's SERVER span hangs there too: both ends are traced)
    children = [s for s in out.spans if s.parent_id == http.span_id and s.kind != KIND_SERVER]
    llm = only(children, f"LLM span under {http.name!r} (span {http.span_id}, pid {pid})",
               [http] + [s for s in of_pid(out, pid) if s is not http])
    ev = [llm, http]
    expect(llm.trace_id == http.trace_id, "the LLM span is not in its HTTP span's trace", ev)
    expect(llm.kind == KIND_CLIENT, f"LLM span kind {llm.kind}, want 3 (CLIENT)", ev)
    expect(llm.start == http.start and llm.end == http.end,
           f"LLM span [{llm.start}, {llm.end}] != its HTTP span [{http.start}, {http.end}] "
           f"(start {llm.start - http.start:+d} ns, end {llm.end - http.end:+d} ns)", ev)
    return http, llm


def no_other_llm_spans(out, pid, llms):
    """The process has no LLM span but the ones the test expects."""
    ids = {s.span_id for s in llms}
    strays = [s for s in of_pid(out, pid) if is_llm(s) and s.span_id not in ids]
    expect(not strays, f"pid {pid} has {len(strays)} unexpected LLM span(s)", strays + list(llms))


def sole_llm_exchange(out, pid, port, path, window, status=200, min_ms=0):
    """llm_exchange for a process that makes this one LLM call: (HTTP span,
    LLM span), and no other LLM span in the process."""
    http, llm = llm_exchange(out, pid, port, path, window, status, min_ms)
    no_other_llm_spans(out, pid, [llm])
    return http, llm


def same(got, want):
    """Typed comparison: ints are ints (not bools), doubles are floats
    within FLOAT_TOLERANCE, arrays are lists."""
    if isinstance(want, bool):
        return got is want
    if isinstance(want, int):
        return isinstance(got, int) and not isinstance(got, bool) and got == want
    if isinstance(want, float):
        return isinstance(got, float) and abs(got - want) <= FLOAT_TOLERANCE
    return type(got) is type(want) and got == want


def check_attrs(span, want):
    """Every attribute in want (PRESENT: any non-empty value; ABSENT: not
    there); all mismatches reported at once."""
    bad = []
    for key, value in want.items():
        got = span.attrs.get(key, ABSENT)
        if value is ABSENT:
            if got is not ABSENT:
                bad.append(f"{key}={got!r} (want it absent)")
        elif value is PRESENT:
            if got is ABSENT or got in ("", None, []):
                bad.append(f"{key} missing")
        elif got is ABSENT:
            bad.append(f"{key} missing (want {value!r})")
        elif not same(got, value):
            bad.append(f"{key}={got!r} (want {value!r}, {type(value).__name__})")
    expect(not bad, f"{span.name!r}: {len(bad)} attribute(s) wrong: " + "; ".join(bad), [span])


def check_llm(llm, *, name, op, provider, kind="LLM", request_model=None, response_model=None,
              usage=None, total=True):
    """Name, operation, provider, models and token counts, in both the GenAI
    and the OpenInference vocabularies."""
    expect(llm.name == name, f"LLM span name {llm.name!r}, want {name!r}", [llm])
    model = response_model or request_model
    want = {"gen_ai.operation.name": op, "gen_ai.provider.name": provider,
            "openinference.span.kind": kind, "llm.provider": PRESENT}
    if kind == "EMBEDDING" and "llm.model_name" not in llm.attrs:
        # OpenInference names an embedding's model embedding.model_name; the
        # contract lists llm.model_name: either is accepted here
        want["embedding.model_name"] = model
    else:
        want["llm.model_name"] = model
    if request_model is not None:
        want["gen_ai.request.model"] = request_model
    if response_model is not None:
        want["gen_ai.response.model"] = response_model
    if usage is not None:
        inp, outp = usage
        want["gen_ai.usage.input_tokens"] = inp
        want["llm.token_count.prompt"] = inp
        if outp is not None:
            want["gen_ai.usage.output_tokens"] = outp
            want["llm.token_count.completion"] = outp
            if total:
                want["llm.token_count.total"] = inp + outp
    check_attrs(llm, want)
    params = llm.attrs.get("llm.invocation_parameters")
    if params is not None:
        try:
            parsed = json.loads(params)
        except (TypeError, ValueError):
            parsed = None
        expect(isinstance(parsed, dict),
               f"llm.invocation_parameters {params!r} is not a JSON object", [llm])


def check_openai_chat(llm, usage):
    """check_llm for an OpenAI chat call to gpt-4o-mini, answered by it."""
    check_llm(llm, name="chat gpt-4o-mini", op="chat", provider="openai",
              request_model="gpt-4o-mini", response_model="gpt-4o-mini", usage=usage)


def check_cost(llm, model, usage):
    pin, pout = PRICES[model]
    inp, outp = usage
    want = {"llm.cost.prompt": inp * pin / 1e6, "llm.cost.completion": outp * pout / 1e6}
    want["llm.cost.total"] = want["llm.cost.prompt"] + want["llm.cost.completion"]
    bad = []
    for key, value in want.items():
        got = llm.attrs.get(key)
        if not isinstance(got, float) or abs(got - value) > COST_TOLERANCE:
            bad.append(f"{key}={got!r} (want {value:.12g})")
    expect(not bad, f"{llm.name!r}: cost for {model} ({inp} in, {outp} out) wrong: "
           + "; ".join(bad), [llm])


def check_no_cost(llm):
    costs = {k: v for k, v in llm.attrs.items() if k.startswith("llm.cost.")}
    expect(not costs, f"{llm.name!r}: cost attributes {costs} for a model with no price", [llm])


def finish_reasons(llm, *allowed):
    got = llm.attrs.get("gen_ai.response.finish_reasons")
    expect(got in [list(a) for a in allowed],
           f"gen_ai.response.finish_reasons {got!r}, want one of {[list(a) for a in allowed]} "
           f"(an array of strings)", [llm])


def check_stream(out, llm, min_s):
    """time_to_first_chunk (a double, in [min_s, TTFC_MAX)) and one
    gen_ai.content.first_chunk event, at that moment."""
    ttfc = llm.attrs.get("gen_ai.response.time_to_first_chunk")
    expect(isinstance(ttfc, float) and min_s <= ttfc < TTFC_MAX,
           f"gen_ai.response.time_to_first_chunk {ttfc!r}, want a double in "
           f"[{min_s}, {TTFC_MAX}) s", [llm])
    firsts = events_named(out, llm, "gen_ai.content.first_chunk")
    expect(len(firsts) == 1, f"want one gen_ai.content.first_chunk event, got {len(firsts)}; "
           + events_brief(out, llm), [llm])
    t = firsts[0].time
    expect(llm.start + min_s * 1e9 <= t <= llm.end + NEST_SLACK_NS,
           f"first_chunk event at +{(t - llm.start) / 1e6:.1f} ms, want within "
           f"[+{min_s * 1e3:.0f} ms, end +{(llm.end - llm.start) / 1e6:.1f} ms]", [llm])
    expect(abs((t - llm.start) - ttfc * 1e9) <= EVENT_SLACK_NS,
           f"first_chunk event at +{(t - llm.start) / 1e6:.1f} ms disagrees with "
           f"time_to_first_chunk {ttfc:.4f} s", [llm])


def check_tool_calls(out, llm, calls, need_id=True):
    """One gen_ai.tool.call event per (id, name, arguments) call; arguments
    compared as JSON (whitespace may differ)."""
    events = events_named(out, llm, "gen_ai.tool.call")
    expect(len(events) == len(calls), f"want {len(calls)} gen_ai.tool.call event(s), got "
           f"{len(events)}; " + events_brief(out, llm), [llm])
    for cid, name, args in calls:
        match = [e for e in events if e.attrs.get("gen_ai.tool.name") == name]
        expect(len(match) == 1, f"want one gen_ai.tool.call event with gen_ai.tool.name "
               f"{name!r}; " + events_brief(out, llm), [llm])
        e = match[0]
        if need_id or cid is not None:
            expect(e.attrs.get("gen_ai.tool.call.id") == cid,
                   f"tool call {name}: gen_ai.tool.call.id {e.attrs.get('gen_ai.tool.call.id')!r}, "
                   f"want {cid!r}", [llm])
        raw = e.attrs.get("gen_ai.tool.call.arguments")
        try:
            parsed = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            parsed = None
        expect(parsed == json.loads(args),
               f"tool call {name}: gen_ai.tool.call.arguments {raw!r}, want the JSON string "
               f"{args!r}", [llm])


CONTENT_KEYS = ("input.value", "output.value")


def content_keys(attrs):
    return sorted(k for k in attrs if k in CONTENT_KEYS or k.endswith(".message.content"))


def no_secret(out, pid):
    leaks = [s for s in out.spans if SECRET in repr(s.attrs) or SECRET in s.name
             or SECRET in s.status_message]
    expect(SECRET not in out.text, f"{SECRET!r} (from a credential header) appears "
           f"{out.text.count(SECRET)} time(s) in the output", leaks or of_pid(out, pid))


def chat_body(model, content="Say hello.", **extra):
    return json.dumps({"model": model, "messages": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": content}], **extra})


def probe_with(ctx, *args):
    """ctx.probe(*args), but a flag the binary does not know yet is a
    failure, not a skip (the run would otherwise hide a missing feature)."""
    try:
        return ctx.probe(*args)
    except ProbeUnavailable as err:
        if any(a.lstrip("-") in str(err) for a in args) or "unrecognized" in str(err) \
                or "unknown" in str(err):
            raise Fail(f"spanprobe {' '.join(args)} refused its arguments: {err}")
        raise


# ---- the tests ----
@case
def llm_openai_curl(ctx):
    """curl -> OpenAI chat, not streamed: the LLM span under the HTTP span,
    every GenAI and OpenInference attribute, the cost, and no credential."""
    srv, probe = llm_setup(ctx)
    url = srv.url(CHAT)
    body = chat_body("gpt-4o-mini", max_tokens=50, temperature=0.2)
    window, res = traffic(ctx, lambda: run_curl_post(
        ctx, url, body, headers=[f"Authorization: Bearer sk-test-{SECRET}"]))
    expect(S.CHAT_TEXT in res.stdout, f"curl did not get the answer: {res.stdout[:300]!r}")
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, CHAT, window)
    check_openai_chat(llm, S.CHAT_USAGE)
    check_attrs(llm, {
        "gen_ai.request.max_tokens": 50, "gen_ai.request.temperature": 0.2,
        "gen_ai.response.id": S.CHAT_ID, "gen_ai.response.finish_reasons": ["stop"],
        "input.value": body, "output.value": S.CHAT_TEXT,
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "You are a terse assistant.",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": S.CHAT_TEXT,
        "gen_ai.response.time_to_first_chunk": ABSENT})
    stream = llm.attrs.get("gen_ai.request.stream")
    expect(stream in (None, False), f"gen_ai.request.stream {stream!r} for a request without "
           "\"stream\" (want false or absent)", [llm])
    check_cost(llm, "gpt-4o-mini", S.CHAT_USAGE)
    no_secret(out, res.pid)


@case
def llm_openai_stream_python(ctx):
    """python urllib -> OpenAI chat streamed (SSE, include_usage), the first
    chunk 300 ms after the headers: time to first chunk, the first-chunk
    event, usage from the final chunk, the text from the deltas."""
    srv, probe = llm_setup(ctx)
    url = srv.url(CHAT)
    body = chat_body("gpt-4o-mini", stream=True, stream_options={"include_usage": True},
                     temperature=0.7)
    window, (res, got) = traffic(ctx, lambda: run_python_llm(ctx, [llm_request(
        url, body, {"Authorization": f"Bearer sk-proj-{SECRET}",
                    "x-test-first-chunk-ms": str(FIRST_CHUNK_MS)})]))
    expect_answers(got, [200])
    expect("[DONE]" in got[0]["text"], f"the client did not read the whole stream: {got[0]!r}")
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, CHAT, window, min_ms=FIRST_CHUNK_MS)
    text = "".join(S.STREAM_DELTAS)
    check_openai_chat(llm, S.STREAM_USAGE)
    check_attrs(llm, {"gen_ai.request.stream": True, "gen_ai.request.temperature": 0.7,
                      "gen_ai.response.id": S.STREAM_ID,
                      "gen_ai.response.finish_reasons": ["stop"],
                      "output.value": text, "input.value": body,
                      "llm.output_messages.0.message.role": "assistant",
                      "llm.output_messages.0.message.content": text})
    check_stream(out, llm, FIRST_CHUNK_MS / 1000)
    check_cost(llm, "gpt-4o-mini", S.STREAM_USAGE)
    no_secret(out, res.pid)


@case
def llm_tool_calls_node(ctx):
    """node fetch -> OpenAI chat with tools: one gen_ai.tool.call event per
    tool call; the answer's model (a dated version) names the span."""
    srv, probe = llm_setup(ctx)
    url = srv.url(CHAT)
    tools = [{"type": "function", "function": {
        "name": n, "description": f"{n} for a place",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}
        for n in ("get_current_weather", "get_local_time")]
    # temperature 0 is what JSON.stringify writes for 0.0: still a double
    body = json.dumps({"model": "gpt-4o", "messages": [
        {"role": "user", "content": "Weather and time in Boston?"}],
        "tools": tools, "tool_choice": "auto", "temperature": 0})
    window, (res, got) = traffic(ctx, lambda: run_node_fetch(ctx, [llm_request(url, body, {
        "Authorization": f"Bearer sk-test-{SECRET}",
        # node's fetch asks for gzip by default; llm_gzip tests that on its own
        "Accept-Encoding": "identity",
        "x-test-response-model": "gpt-4o-2024-08-06"})]))
    expect_answers(got, [200])
    expect("tool_calls" in got[0]["text"], f"no tool_calls in the answer: {got[0]!r}")
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, CHAT, window)
    check_llm(llm, name="chat gpt-4o-2024-08-06", op="chat", provider="openai",
              request_model="gpt-4o", response_model="gpt-4o-2024-08-06", usage=S.TOOLS_USAGE)
    check_attrs(llm, {"gen_ai.response.id": S.TOOLS_ID,
                      "gen_ai.response.finish_reasons": ["tool_calls"],
                      "gen_ai.request.temperature": 0.0})
    check_tool_calls(out, llm, S.TOOL_CALLS)
    no_secret(out, res.pid)


@case
def llm_anthropic_stream(ctx):
    """node fetch -> Anthropic messages streamed with a tool_use block:
    input tokens from message_start, output tokens from message_delta."""
    srv, probe = llm_setup(ctx)
    url = srv.url("/v1/messages")
    model = "claude-3-5-haiku-20241022"
    body = json.dumps({"model": model, "max_tokens": 1024, "stream": True,
                       "tools": [{"name": "get_weather", "description": "Get the weather",
                                  "input_schema": {"type": "object", "properties": {
                                      "location": {"type": "string"},
                                      "unit": {"type": "string"}},
                                      "required": ["location"]}}],
                       "messages": [{"role": "user",
                                     "content": "What is the weather in San Francisco?"}]})
    delay = 200
    window, (res, got) = traffic(ctx, lambda: run_node_fetch(ctx, [llm_request(url, body, {
        "x-api-key": f"sk-ant-api03-{SECRET}", "anthropic-version": "2023-06-01",
        "x-test-first-chunk-ms": str(delay)})]))
    expect_answers(got, [200])
    expect("message_stop" in got[0]["text"], f"the client did not read the whole stream: {got[0]!r}")
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, "/v1/messages", window, min_ms=delay)
    usage = S.ANTHROPIC_STREAM_USAGE
    check_llm(llm, name=f"chat {model}", op="chat", provider="anthropic",
              request_model=model, response_model=model, usage=usage)
    check_attrs(llm, {"gen_ai.request.stream": True, "gen_ai.request.max_tokens": 1024,
                      "gen_ai.response.id": S.ANTHROPIC_STREAM_ID, "input.value": body})
    # the contract does not say whether Anthropic's stop_reason is mapped
    finish_reasons(llm, ["tool_use"], ["tool_calls"])
    text = "".join(S.ANTHROPIC_STREAM_TEXT)
    output = llm.attrs.get("output.value")
    expect(isinstance(output, str) and text in output,
           f"output.value {output!r} lacks the assistant's text {text!r}", [llm])
    check_stream(out, llm, delay / 1000)
    tid, name, parts = S.ANTHROPIC_TOOL
    check_tool_calls(out, llm, [(tid, name, "".join(parts))])
    check_cost(llm, model, usage)
    no_secret(out, res.pid)


@case
def llm_ollama_ndjson(ctx):
    """python urllib -> Ollama /api/chat on plain HTTP, streamed as NDJSON:
    provider ollama, usage from the done:true record, no cost."""
    srv, probe = llm_setup(ctx)
    url = srv.url("/api/chat", tls=False)
    model = "my-local-model"
    body = json.dumps({"model": model, "stream": True,
                       "messages": [{"role": "user", "content": "Why is the sky blue?"}]})
    delay = 150
    window, (res, got) = traffic(ctx, lambda: run_python_llm(ctx, [llm_request(
        url, body, {"x-test-first-chunk-ms": str(delay)})]))
    expect_answers(got, [200])
    expect('"done":true' in got[0]["text"], f"the client did not read the whole stream: {got[0]!r}")
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.http_port, "/api/chat", window, min_ms=delay)
    text = "".join(S.OLLAMA_CHAT)
    check_llm(llm, name=f"chat {model}", op="chat", provider="ollama",
              request_model=model, response_model=model, usage=S.OLLAMA_CHAT_USAGE)
    check_attrs(llm, {"gen_ai.request.stream": True, "output.value": text, "input.value": body,
                      "llm.input_messages.0.message.role": "user",
                      "llm.input_messages.0.message.content": "Why is the sky blue?",
                      "llm.output_messages.0.message.role": "assistant",
                      "llm.output_messages.0.message.content": text})
    check_stream(out, llm, delay / 1000)
    check_no_cost(llm)


@case
def llm_gzip(ctx):
    """curl --compressed: the answer comes gzip-encoded and the LLM span's
    attributes are still those of the decoded JSON; likewise for a gzip
    answer sent chunked in 100-byte pieces (python, embeddings)."""
    srv, probe = llm_setup(ctx)
    url = srv.url(CHAT)
    body = chat_body("gpt-4o-mini", max_tokens=64)
    headers_file = os.path.join(ctx.dir, "response-headers.txt")
    embed = json.dumps({"model": "text-embedding-3-small", "input": ["one", "two"] * 20})

    def both():
        return (run_curl_post(ctx, url, body, headers=[f"Authorization: Bearer sk-test-{SECRET}"],
                              extra=["--compressed", "-D", headers_file]),
                run_python_llm(ctx, [llm_request(srv.url("/v1/embeddings"), embed, {
                    "Authorization": f"Bearer {SECRET}", "Accept-Encoding": "gzip",
                    "x-test-chunked": "1"})]))
    window, (res, (res2, got)) = traffic(ctx, both)
    expect_answers(got, [200])
    with open(headers_file) as f:
        head = f.read().lower()
    expect("content-encoding: gzip" in head, f"the server did not gzip its answer: {head!r}")
    expect(S.CHAT_TEXT in res.stdout, f"curl did not get the answer: {res.stdout[:300]!r}")
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, CHAT, window)
    check_openai_chat(llm, S.CHAT_USAGE)
    check_attrs(llm, {"gen_ai.request.max_tokens": 64, "gen_ai.response.id": S.CHAT_ID,
                      "gen_ai.response.finish_reasons": ["stop"], "output.value": S.CHAT_TEXT,
                      "llm.output_messages.0.message.content": S.CHAT_TEXT})
    check_cost(llm, "gpt-4o-mini", S.CHAT_USAGE)
    no_secret(out, res.pid)

    # gzip sent chunked, in 100-byte pieces, as on-the-fly compression is
    _, llm2 = sole_llm_exchange(out, res2.pid, srv.https_port, "/v1/embeddings", window)
    check_llm(llm2, name="embeddings text-embedding-3-small", op="embeddings", provider="openai",
              kind="EMBEDDING", request_model="text-embedding-3-small",
              response_model="text-embedding-3-small")
    check_attrs(llm2, {"gen_ai.usage.input_tokens": S.EMBED_TOKENS})


def retry_after(http, llm):
    """http.response.header.retry-after, on the LLM span or (the contract
    leaves it open) on its HTTP span."""
    for span in (llm, http):
        if "http.response.header.retry-after" in span.attrs:
            return span.attrs["http.response.header.retry-after"]
    return None


@case
def llm_error_429(ctx):
    """curl -> OpenAI 429 with a rate_limit_error body and Retry-After: the
    LLM span is ERROR with the body's type and message."""
    srv, probe = llm_setup(ctx)
    url = srv.url(CHAT)
    window, res = traffic(ctx, lambda: run_curl_post(
        ctx, url, chat_body("rate-limited"), headers=[f"Authorization: Bearer sk-test-{SECRET}"]))
    expect("rate_limit_error" in res.stdout, f"curl did not get the error: {res.stdout[:300]!r}")
    out = probe.stop()
    http, llm = sole_llm_exchange(out, res.pid, srv.https_port, CHAT, window, status=429)
    check_llm(llm, name="chat rate-limited", op="chat", provider="openai",
              request_model="rate-limited")
    err = S.RATE_LIMIT_BODY["error"]
    expect(llm.status_code == STATUS_ERROR, f"LLM span status.code {llm.status_code}, want 2", [llm])
    check_attrs(llm, {"error.type": err["type"]})
    expect(llm.status_message == err["message"],
           f"LLM span status message {llm.status_message!r}, want {err['message']!r}", [llm])
    got = retry_after(http, llm)
    expect(got == [S.RETRY_AFTER], f"http.response.header.retry-after {got!r}, want "
           f"[{S.RETRY_AFTER!r}] (on the LLM span or its HTTP span)", [llm, http])
    no_secret(out, res.pid)


@case
def llm_error_529(ctx):
    """python -> Anthropic 529 overloaded_error: ERROR, type and message."""
    srv, probe = llm_setup(ctx)
    url = srv.url("/v1/messages")
    body = json.dumps({"model": "overloaded", "max_tokens": 256,
                       "messages": [{"role": "user", "content": "Hello"}]})
    window, (res, got) = traffic(ctx, lambda: run_python_llm(ctx, [llm_request(url, body, {
        "x-api-key": f"sk-ant-{SECRET}", "anthropic-version": "2023-06-01"})]))
    expect_answers(got, [529])
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, "/v1/messages", window, status=529)
    check_llm(llm, name="chat overloaded", op="chat", provider="anthropic",
              request_model="overloaded")
    err = S.OVERLOADED_BODY["error"]
    expect(llm.status_code == STATUS_ERROR, f"LLM span status.code {llm.status_code}, want 2", [llm])
    check_attrs(llm, {"error.type": err["type"], "gen_ai.request.max_tokens": 256})
    expect(llm.status_message == err["message"],
           f"LLM span status message {llm.status_message!r}, want {err['message']!r}", [llm])
    no_secret(out, res.pid)


@case
def llm_not_llm(ctx):
    """A chat-shaped JSON POST to a path no LLM API uses, answered with a
    chat-completion-shaped body (curl): an HTTP span and no LLM span. Nor
    for model listings (GET /v1/models, /api/tags) or for that POST again
    with Host: api.openai.com (python, one connection): recognition is by
    method and path, never by host."""
    srv, probe = llm_setup(ctx)
    url = srv.url("/v1/not-llm")

    def both():
        res = run_curl_post(ctx, url, chat_body("gpt-4o-mini"))
        return res, run_python_llm(ctx, [
            {"method": "GET", "url": srv.url("/v1/models"), "headers": {}},
            {"method": "GET", "url": srv.url("/api/tags"), "headers": {}},
            llm_request(url, chat_body("gpt-4o-mini"), {"Host": "api.openai.com"}),
        ], keepalive=True)
    window, (res, (res2, got)) = traffic(ctx, both)
    expect(S.NOT_LLM_TEXT in res.stdout, f"curl did not get the answer: {res.stdout[:300]!r}")
    expect_answers(got, [200, 200, 200])
    out = probe.stop()
    http = http_exchange(out, res.pid, srv.https_port, "/v1/not-llm", window)
    # (the fake server's SERVER span hangs there too: both ends are traced)
    children = [s for s in out.spans if s.parent_id == http.span_id and s.kind != KIND_SERVER]
    expect(not children, f"the HTTP span has {len(children)} child span(s), want none",
           [http] + children)
    no_other_llm_spans(out, res.pid, [])
    spans = [s for s in of_pid(out, res2.pid) if s.kind == KIND_CLIENT]
    expect(len(spans) == 3, f"pid {res2.pid} has {len(spans)} CLIENT spans, want 3 (GET "
           "/v1/models, GET /api/tags, POST /v1/not-llm with Host: api.openai.com)", spans)
    no_other_llm_spans(out, res2.pid, [])


@case
def llm_no_content(ctx):
    """--no-content: model and token counts, but no prompt or answer text
    anywhere in the LLM span's attributes (curl, not streamed; python,
    streamed)."""
    srv, probe = llm_setup(ctx, "--no-content")
    url = srv.url(CHAT)
    prompt = "MARKER-PROMPT-4f1d9c: say hello."
    body = chat_body("gpt-4o-mini", content=prompt, max_tokens=50)
    stream = chat_body("gpt-4o-mini", content=prompt, stream=True,
                       stream_options={"include_usage": True})

    def both():
        return (run_curl_post(ctx, url, body, headers=[f"Authorization: Bearer sk-test-{SECRET}"]),
                run_python_llm(ctx, [llm_request(url, stream, {"Authorization": f"Bearer {SECRET}"})]))
    window, (res, (res2, got)) = traffic(ctx, both)
    expect(S.CHAT_TEXT in res.stdout, f"curl did not get the answer: {res.stdout[:300]!r}")
    expect_answers(got, [200])
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, CHAT, window)
    check_openai_chat(llm, S.CHAT_USAGE)
    check_attrs(llm, {"gen_ai.request.max_tokens": 50})
    _, sllm = sole_llm_exchange(out, res2.pid, srv.https_port, CHAT, window)
    check_openai_chat(sllm, S.STREAM_USAGE)
    for span in (llm, sllm):
        keys = content_keys(span.attrs)
        expect(not keys, f"--no-content, yet the LLM span has {keys}", [span])
        for ev in span_events(out).get(span.span_id, []):
            expect(not content_keys(ev.attrs), f"--no-content, yet event {ev!r} carries content",
                   [span])
    for marker, what in ((prompt, "the prompt"), (S.CHAT_TEXT, "the answer"),
                         ("".join(S.STREAM_DELTAS), "the streamed answer")):
        expect(marker not in out.text, f"--no-content, yet {what} ({marker!r}) appears in the "
               "output", of_pid(out, res.pid))
    no_secret(out, res.pid)


@case
def llm_embeddings(ctx):
    """python -> OpenAI embeddings: an EMBEDDING span with the input tokens."""
    srv, probe = llm_setup(ctx)
    url = srv.url("/v1/embeddings")
    model = "text-embedding-3-small"
    body = json.dumps({"model": model, "input": "The food was delicious and the waiter...",
                       "encoding_format": "float"})
    window, (res, got) = traffic(ctx, lambda: run_python_llm(ctx, [llm_request(
        url, body, {"Authorization": f"Bearer sk-test-{SECRET}"})]))
    expect_answers(got, [200])
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, "/v1/embeddings", window)
    check_llm(llm, name=f"embeddings {model}", op="embeddings", provider="openai",
              kind="EMBEDDING", request_model=model, response_model=model)
    check_attrs(llm, {"gen_ai.usage.input_tokens": S.EMBED_TOKENS})
    no_secret(out, res.pid)


@case
def llm_gemini(ctx):
    """Gemini: generateContent with a functionCall (curl, x-goog-api-key),
    then streamGenerateContent?alt=sse (python; CRLF-framed events)."""
    srv, probe = llm_setup(ctx)
    model = "gemini-2.0-flash"
    gen_path = f"/v1beta/models/{model}:generateContent"
    stream_path = f"/v1beta/models/{model}:streamGenerateContent"
    gen_body = json.dumps({
        "contents": [{"role": "user", "parts": [{"text": "Weather in Mountain View?"}]}],
        "tools": [{"functionDeclarations": [{"name": "find_weather", "description": "weather",
                                             "parameters": {"type": "object", "properties": {
                                                 "location": {"type": "string"}}}}]}],
        "generationConfig": {"temperature": 0.5, "maxOutputTokens": 200}})
    stream_body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "A pangram?"}]}]})
    delay = 200
    key = f"AIzaSy-{SECRET}"

    def both():
        r1 = run_curl_post(ctx, srv.url(gen_path), gen_body, headers=[f"x-goog-api-key: {key}"])
        r2 = run_python_llm(ctx, [llm_request(srv.url(stream_path + "?alt=sse"), stream_body, {
            "x-goog-api-key": key, "x-test-first-chunk-ms": str(delay)})])
        return r1, r2
    window, (gen, (stream, got)) = traffic(ctx, both)
    expect(S.GEMINI_TEXT in gen.stdout, f"curl did not get the answer: {gen.stdout[:300]!r}")
    expect_answers(got, [200])
    out = probe.stop()

    _, llm = sole_llm_exchange(out, gen.pid, srv.https_port, gen_path, window)
    check_llm(llm, name=f"generate_content {model}", op="generate_content",
              provider="gcp.gemini", request_model=model, usage=S.GEMINI_USAGE)
    check_attrs(llm, {"gen_ai.request.temperature": 0.5,
                      "llm.output_messages.0.message.content": PRESENT})
    # Gemini says "STOP"; the contract does not say whether it is mapped
    finish_reasons(llm, ["STOP"], ["stop"])
    name, args = S.GEMINI_FUNCTION
    # a Gemini functionCall has no id: only its name and arguments are checked
    check_tool_calls(out, llm, [(None, name, json.dumps(args))], need_id=False)

    _, sllm = sole_llm_exchange(out, stream.pid, srv.https_port, stream_path, window, min_ms=delay)
    check_llm(sllm, name=f"generate_content {model}", op="generate_content",
              provider="gcp.gemini", request_model=model, usage=S.GEMINI_STREAM_USAGE)
    check_attrs(sllm, {"output.value": "".join(S.GEMINI_STREAM)})
    st = sllm.attrs.get("gen_ai.request.stream")
    expect(st in (None, True), f"gen_ai.request.stream {st!r} for streamGenerateContent", [sllm])
    check_stream(out, sllm, delay / 1000)
    no_secret(out, gen.pid)


@case
def llm_azure(ctx):
    """Azure OpenAI: /openai/deployments/{d}/chat/completions?api-version=,
    an api-key header, no model in the request: the answer's model names it."""
    srv, probe = llm_setup(ctx)
    path = "/openai/deployments/my-gpt4o-mini/chat/completions"
    url = srv.url(path + "?api-version=2024-10-21")
    body = json.dumps({"messages": [{"role": "user", "content": "Say hello."}],
                       "max_tokens": 20})
    window, res = traffic(ctx, lambda: run_curl_post(ctx, url, body,
                                                     headers=[f"api-key: {SECRET}-0123456789"]))
    expect(S.CHAT_TEXT in res.stdout, f"curl did not get the answer: {res.stdout[:300]!r}")
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, path, window)
    expect(llm.name == "chat gpt-4o-mini", f"LLM span name {llm.name!r}, want 'chat gpt-4o-mini'",
           [llm])
    # 127.0.0.1 is no known host: "openai"; an Azure-path-aware "azure.ai.openai" is accepted
    provider = llm.attrs.get("gen_ai.provider.name")
    expect(provider in ("openai", "azure.ai.openai"),
           f"gen_ai.provider.name {provider!r}, want 'openai' (or 'azure.ai.openai')", [llm])
    check_attrs(llm, {"gen_ai.operation.name": "chat", "gen_ai.response.model": "gpt-4o-mini",
                      "gen_ai.usage.input_tokens": S.CHAT_USAGE[0],
                      "gen_ai.usage.output_tokens": S.CHAT_USAGE[1],
                      "gen_ai.request.max_tokens": 20, "output.value": S.CHAT_TEXT})
    no_secret(out, res.pid)


@case
def llm_routes(ctx):
    """The other recognised paths, one keep-alive connection (python
    http.client): /v1/completions, /v1/responses, /api/generate, /api/embed,
    /v1/messages (not streamed), :embedContent, and a non-LLM POST between them; each exchange gets the
    right LLM span (or none), none borrowed from its neighbour."""
    srv, probe = llm_setup(ctx)
    gem = "text-embedding-004"
    calls = [  # path, body, name, op, provider, kind, usage
        ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test",
                             "max_tokens": 7, "temperature": 0.0},
         "text_completion gpt-3.5-turbo-instruct", "text_completion", "openai", "LLM",
         S.COMPLETION_USAGE),
        ("/v1/responses", {"model": "gpt-4o-mini",
                           "input": "Tell me a three sentence bedtime story about a unicorn."},
         "chat gpt-4o-mini", "chat", "openai", "LLM", S.RESPONSE_USAGE),
        ("/v1/not-llm", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
         None, None, None, None, None),
        ("/api/generate", {"model": "llama3.2", "prompt": "Why is the sky blue?", "stream": False},
         "text_completion llama3.2", "text_completion", "ollama", "LLM", S.OLLAMA_GENERATE_USAGE),
        ("/api/embed", {"model": "all-minilm", "input": "Why is the sky blue?"},
         "embeddings all-minilm", "embeddings", "ollama", "EMBEDDING", None),
        ("/v1/messages", {"model": "claude-3-5-haiku-20241022", "max_tokens": 1024,
                          "messages": [{"role": "user", "content": "Hello, Claude"}]},
         "chat claude-3-5-haiku-20241022", "chat", "anthropic", "LLM", S.ANTHROPIC_USAGE),
        (f"/v1beta/models/{gem}:embedContent",
         {"model": f"models/{gem}", "content": {"parts": [{"text": "What is life?"}]}},
         f"embeddings {gem}", "embeddings", "gcp.gemini", "EMBEDDING", None),
    ]
    reqs = [llm_request(srv.url(path), json.dumps(body), {"Authorization": f"Bearer {SECRET}"})
            for path, body, *_ in calls]
    window, (res, got) = traffic(ctx, lambda: run_python_llm(ctx, reqs, keepalive=True))
    expect_answers(got, [200] * len(calls))
    out = probe.stop()
    llms = []
    for path, body, name, op, provider, kind, usage in calls:
        if name is None:
            http = http_exchange(out, res.pid, srv.https_port, path, window)
            # (the fake server's SERVER span hangs there too: both ends are traced)
            children = [s for s in out.spans
                        if s.parent_id == http.span_id and s.kind != KIND_SERVER]
            expect(not children, f"{path}: the HTTP span has child span(s)", [http] + children)
            continue
        _, llm = llm_exchange(out, res.pid, srv.https_port, path, window)
        check_llm(llm, name=name, op=op, provider=provider, kind=kind,
                  request_model=name.split(" ", 1)[1], usage=usage)
        llms.append(llm)
    no_other_llm_spans(out, res.pid, llms)
    check_attrs(llms[0], {"output.value": S.COMPLETION_TEXT, "gen_ai.request.max_tokens": 7,
                          "gen_ai.request.temperature": 0.0,
                          "gen_ai.response.finish_reasons": ["length"],
                          "gen_ai.response.id": S.COMPLETION_ID})
    check_attrs(llms[1], {"output.value": S.RESPONSE_TEXT, "gen_ai.response.id": S.RESPONSE_ID})
    check_attrs(llms[2], {"output.value": S.OLLAMA_GENERATE_TEXT})
    check_attrs(llms[4], {"output.value": S.ANTHROPIC_TEXT, "gen_ai.request.max_tokens": 1024,
                          "gen_ai.response.id": S.ANTHROPIC_ID,
                          "llm.output_messages.0.message.role": "assistant",
                          "llm.output_messages.0.message.content": S.ANTHROPIC_TEXT})
    check_cost(llms[4], "claude-3-5-haiku-20241022", S.ANTHROPIC_USAGE)
    no_secret(out, res.pid)


@case
def llm_openai_stream_tools(ctx):
    """node fetch -> OpenAI chat streamed with tools: the tool calls arrive
    as tool_calls deltas, the arguments in fragments; one event per call
    with the whole arguments; usage from the final chunk."""
    srv, probe = llm_setup(ctx)
    url = srv.url(CHAT)
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
             for n in ("get_current_weather", "get_local_time")]
    body = json.dumps({"model": "gpt-4o-mini", "stream": True,
                       "stream_options": {"include_usage": True}, "tools": tools,
                       "messages": [{"role": "user", "content": "Weather and time in Boston?"}]})
    window, (res, got) = traffic(ctx, lambda: run_node_fetch(ctx, [llm_request(url, body, {
        "Authorization": f"Bearer sk-test-{SECRET}"})]))
    expect_answers(got, [200])
    expect("[DONE]" in got[0]["text"], f"the client did not read the whole stream: {got[0]!r}")
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, CHAT, window)
    check_openai_chat(llm, S.TOOLS_USAGE)
    check_attrs(llm, {"gen_ai.request.stream": True, "gen_ai.response.id": S.STREAM_ID,
                      "gen_ai.response.finish_reasons": ["tool_calls"]})
    check_tool_calls(out, llm, S.TOOL_CALLS)
    check_cost(llm, "gpt-4o-mini", S.TOOLS_USAGE)
    no_secret(out, res.pid)


INPUT_LIMIT = 4096  # bytes of input.value by default
TRUNCATION_MARKER_MAX = 32  # bytes a truncation marker may add at the end


def check_prefix(span, key, full, limit=None):
    """span.attrs[key] is full, or full cut short: a prefix of it (give or
    take a short marker at the end), within limit bytes when a limit is given."""
    value = span.attrs.get(key)
    expect(isinstance(value, str) and value, f"{key} missing or empty", [span])
    raw, whole = value.encode(), full.encode()
    common = 0
    while common < min(len(raw), len(whole)) and raw[common] == whole[common]:
        common += 1
    expect(common >= len(raw) - TRUNCATION_MARKER_MAX and common >= min(len(whole), 1024),
           f"{key} ({len(raw)} bytes) is not a prefix of the {len(whole)}-byte original "
           f"(they part at byte {common}: {raw[max(0, common - 20):common + 20]!r})", [span])
    if limit is not None:  # (no limit: the contract gives none, so whole is fine too)
        expect(len(raw) <= limit, f"{key} is {len(raw)} bytes, want at most {limit}", [span])


@case
def llm_large_bodies(ctx):
    """Bodies much larger than one read: (1) a 70 KB request, raw UTF-8, with
    "model" after the messages as the OpenAI SDKs write it and a 4-byte
    character across byte 4096: the model is still known and input.value is
    cut to at most 4096 bytes of valid UTF-8; (2) a small request whose
    JSON escapes its non-ASCII characters (\\uXXXX, an emoji as a surrogate
    pair) and a ~30 KB answer with usage after it: the message content is
    decoded, the usage found, output.value a valid prefix."""
    srv, probe = llm_setup(ctx)
    url = srv.url(CHAT)
    system = "You are 🙂 terse — ünïcødé."
    template = json.dumps({"messages": [{"role": "system", "content": system},
                                        {"role": "user", "content": "@@USER@@"}],
                           "model": "gpt-4o-mini", "max_tokens": 5}, ensure_ascii=False)
    offset = template.encode().index(b"@@USER@@")
    user = "a" * (INPUT_LIMIT - 2 - offset) + "🙂" + "Ünïcødé 🙂 text, ø. " * 3000
    big = template.replace("@@USER@@", user)
    assert big.encode()[INPUT_LIMIT - 2:INPUT_LIMIT + 2] == "🙂".encode()
    small = json.dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": system}, {"role": "user", "content": "Talk at length."}]})
    assert "\\ud83d\\ude42" in small  # the emoji as an escaped surrogate pair
    repeat = 1000
    long_answer = S.long_text(repeat)

    def both():
        return (run_python_llm(ctx, [llm_request(url, big, {"Authorization": f"Bearer {SECRET}"})]),
                run_python_llm(ctx, [llm_request(url, small, {
                    "Authorization": f"Bearer {SECRET}", "x-test-answer-repeat": str(repeat)})]))
    window, ((res1, got1), (res2, got2)) = traffic(ctx, both)
    expect_answers(got1, [200])
    expect_answers(got2, [200])
    expect(long_answer in got2[0]["text"], "the client did not get the long answer")
    out = probe.stop()

    _, llm = sole_llm_exchange(out, res1.pid, srv.https_port, CHAT, window)
    check_openai_chat(llm, S.CHAT_USAGE)
    check_attrs(llm, {"gen_ai.request.max_tokens": 5, "output.value": S.CHAT_TEXT,
                      "llm.input_messages.0.message.role": "system",
                      "llm.input_messages.0.message.content": system})
    check_prefix(llm, "input.value", big, limit=INPUT_LIMIT)

    _, llm2 = sole_llm_exchange(out, res2.pid, srv.https_port, CHAT, window)
    check_openai_chat(llm2, S.CHAT_USAGE)
    check_attrs(llm2, {"gen_ai.response.finish_reasons": ["stop"], "input.value": small,
                       "llm.input_messages.0.message.content": system})
    check_prefix(llm2, "output.value", long_answer)
    check_cost(llm2, "gpt-4o-mini", S.CHAT_USAGE)


@case
def llm_stream_rechunked(ctx):
    """An OpenAI stream written in 1 to 64-byte pieces (as a proxy may
    re-chunk it), each its own HTTP chunk and TLS record, cutting SSE events
    and multi-byte characters anywhere: the text, usage and id are whole."""
    srv, probe = llm_setup(ctx)
    url = srv.url(CHAT)
    body = chat_body("gpt-4o-mini", stream=True, stream_options={"include_usage": True})
    window, (res, got) = traffic(ctx, lambda: run_python_llm(ctx, [llm_request(
        url, body, {"Authorization": f"Bearer {SECRET}", "x-test-rechunk": "1"})]))
    expect_answers(got, [200])
    text = "".join(S.UTF8_DELTAS)
    expect("[DONE]" in got[0]["text"], f"the client did not read the whole stream: {got[0]!r}")
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, CHAT, window)
    check_openai_chat(llm, S.STREAM_USAGE)
    check_attrs(llm, {"gen_ai.request.stream": True, "gen_ai.response.id": S.STREAM_ID,
                      "gen_ai.response.finish_reasons": ["stop"], "output.value": text,
                      "llm.output_messages.0.message.content": text})
    check_stream(out, llm, 0.0)
    check_cost(llm, "gpt-4o-mini", S.STREAM_USAGE)


@case
def llm_parallel_node(ctx):
    """node fetch, three streams at once on three connections (OpenAI,
    Anthropic, Gemini), first chunks 300, 100 and 200 ms after the headers:
    every LLM span has its own exchange's model, usage, text and timing."""
    srv, probe = llm_setup(ctx)
    claude = "claude-3-5-haiku-20241022"
    gem = "gemini-2.0-flash"
    gem_path = f"/v1beta/models/{gem}:streamGenerateContent"
    calls = [  # path, url suffix, body, headers, delay ms, name, provider, usage, text
        (CHAT, "", chat_body("gpt-4o-mini", stream=True, stream_options={"include_usage": True}),
         {"Authorization": f"Bearer {SECRET}"}, 300, "chat gpt-4o-mini", "openai",
         S.STREAM_USAGE, "".join(S.STREAM_DELTAS)),
        ("/v1/messages", "", json.dumps({"model": claude, "max_tokens": 512, "stream": True,
                                         "messages": [{"role": "user", "content": "Hi"}]}),
         {"x-api-key": SECRET, "anthropic-version": "2023-06-01"}, 100, f"chat {claude}",
         "anthropic", S.ANTHROPIC_STREAM_USAGE, "".join(S.ANTHROPIC_STREAM_TEXT)),
        (gem_path, "?alt=sse",
         json.dumps({"contents": [{"role": "user", "parts": [{"text": "A pangram?"}]}]}),
         {"x-goog-api-key": SECRET}, 200, f"generate_content {gem}", "gcp.gemini",
         S.GEMINI_STREAM_USAGE, "".join(S.GEMINI_STREAM)),
    ]
    reqs = [llm_request(srv.url(path + suffix), body,
                        {**hdrs, "x-test-first-chunk-ms": str(delay), "Accept-Encoding": "identity"})
            for path, suffix, body, hdrs, delay, *_ in calls]
    window, (res, got) = traffic(ctx, lambda: run_node_fetch(ctx, reqs, parallel=True))
    expect_answers(got, [200, 200, 200])
    out = probe.stop()
    llms = []
    for path, _, _, _, delay, name, provider, usage, text in calls:
        _, llm = llm_exchange(out, res.pid, srv.https_port, path, window, min_ms=delay)
        check_llm(llm, name=name, op=name.split(" ")[0], provider=provider,
                  request_model=name.split(" ")[1], usage=usage)
        check_attrs(llm, {"output.value": text})
        check_stream(out, llm, delay / 1000)
        llms.append(llm)
    no_other_llm_spans(out, res.pid, llms)
    no_secret(out, res.pid)


@case
def llm_responses_stream(ctx):
    """python -> OpenAI Responses API streamed (response.created ...
    response.output_text.delta ... response.completed): the text from the
    deltas, the usage from response.completed, the first-chunk timing."""
    srv, probe = llm_setup(ctx)
    url = srv.url("/v1/responses")
    body = json.dumps({"model": "gpt-4o-mini", "instructions": "You are a helpful assistant.",
                       "input": "Hello!", "stream": True})
    delay = 250
    window, (res, got) = traffic(ctx, lambda: run_python_llm(ctx, [llm_request(url, body, {
        "Authorization": f"Bearer sk-proj-{SECRET}", "x-test-first-chunk-ms": str(delay)})]))
    expect_answers(got, [200])
    expect("response.completed" in got[0]["text"], f"the client did not read the whole stream")
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, "/v1/responses", window, min_ms=delay)
    text = "".join(S.RESPONSE_STREAM_DELTAS)
    check_openai_chat(llm, S.RESPONSE_STREAM_USAGE)
    check_attrs(llm, {"gen_ai.request.stream": True, "gen_ai.response.id": S.RESPONSE_STREAM_ID,
                      "output.value": text, "input.value": body})
    check_stream(out, llm, delay / 1000)
    check_cost(llm, "gpt-4o-mini", S.RESPONSE_STREAM_USAGE)
    no_secret(out, res.pid)


@case
def llm_stream_comments(ctx):
    """An OpenAI-compatible gateway's stream (OpenRouter) that opens with
    SSE comments (": OPENROUTER PROCESSING") and sends its first data event
    300 ms later: comments carry no content, so the first chunk, its event
    and time_to_first_chunk are the data event's."""
    srv, probe = llm_setup(ctx)
    url = srv.url(CHAT)
    body = chat_body("gpt-4o-mini", stream=True, stream_options={"include_usage": True})
    window, (res, got) = traffic(ctx, lambda: run_python_llm(ctx, [llm_request(url, body, {
        "Authorization": f"Bearer {SECRET}", "x-test-sse-comments": "1",
        "x-test-first-chunk-ms": str(FIRST_CHUNK_MS)})]))
    expect_answers(got, [200])
    expect(got[0]["text"].startswith(": OPENROUTER"), f"no comments in the stream: {got[0]!r}")
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, CHAT, window, min_ms=FIRST_CHUNK_MS)
    check_openai_chat(llm, S.STREAM_USAGE)
    check_attrs(llm, {"output.value": "".join(S.STREAM_DELTAS)})
    check_stream(out, llm, FIRST_CHUNK_MS / 1000)


@case
def llm_keepalive_streams(ctx):
    """Three streams one after the other on one keep-alive connection
    (python http.client): OpenAI SSE, Anthropic SSE with a tool_use, Ollama
    NDJSON. Each stream's end is found, so each LLM span has its own text,
    usage and tool call, and none spills into the next."""
    srv, probe = llm_setup(ctx)
    claude = "claude-3-5-haiku-20241022"
    calls = [
        (CHAT, chat_body("gpt-4o-mini", stream=True, stream_options={"include_usage": True}),
         "chat gpt-4o-mini", "openai", S.STREAM_USAGE, "".join(S.STREAM_DELTAS)),
        ("/v1/messages", json.dumps({"model": claude, "max_tokens": 300, "stream": True,
                                     "tools": [{"name": "get_weather", "input_schema": {
                                         "type": "object"}}],
                                     "messages": [{"role": "user", "content": "Weather?"}]}),
         f"chat {claude}", "anthropic", S.ANTHROPIC_STREAM_USAGE,
         "".join(S.ANTHROPIC_STREAM_TEXT)),
        ("/api/chat", json.dumps({"model": "my-local-model", "stream": True,
                                  "messages": [{"role": "user", "content": "Sky?"}]}),
         "chat my-local-model", "ollama", S.OLLAMA_CHAT_USAGE, "".join(S.OLLAMA_CHAT)),
    ]
    reqs = [llm_request(srv.url(path), body, {"Authorization": f"Bearer {SECRET}",
                                              "x-api-key": SECRET, "x-test-first-chunk-ms": "100"})
            for path, body, *_ in calls]
    window, (res, got) = traffic(ctx, lambda: run_python_llm(ctx, reqs, keepalive=True))
    expect_answers(got, [200, 200, 200])
    out = probe.stop()
    llms = []
    for path, _, name, provider, usage, text in calls:
        _, llm = llm_exchange(out, res.pid, srv.https_port, path, window, min_ms=100)
        check_llm(llm, name=name, op="chat", provider=provider, request_model=name.split(" ")[1],
                  usage=usage)
        output = llm.attrs.get("output.value")
        expect(isinstance(output, str) and text in output and len(output) < len(text) + 200,
               f"output.value {output!r}, want the text {text!r}", [llm])
        check_stream(out, llm, 0.1)
        llms.append(llm)
    no_other_llm_spans(out, res.pid, llms)
    tid, name, parts = S.ANTHROPIC_TOOL
    check_tool_calls(out, llms[1], [(tid, name, "".join(parts))])
    for llm in (llms[0], llms[2]):
        calls_seen = events_named(out, llm, "gen_ai.tool.call")
        expect(not calls_seen, f"{llm.name!r} has tool call events: {calls_seen!r}", [llm])


@case
def llm_long_conversation(ctx):
    """An agent's 60th turn: 61 messages of ~600 bytes in the request (36 KB).
    However many message attributes that makes, the span keeps what the
    contract lists: the first message, the model, usage, id, finish
    reasons, output and cost."""
    srv, probe = llm_setup(ctx)
    url = srv.url(CHAT)
    messages = [{"role": "system", "content": "You are an agent. " + "Follow the rules. " * 30}]
    for i in range(60):
        role = "user" if i % 2 == 0 else "assistant"
        messages.append({"role": role, "content": f"turn {i}: " + "some context words " * 30})
    body = json.dumps({"messages": messages, "model": "gpt-4o-mini", "max_tokens": 100,
                       "temperature": 0.3})
    window, (res, got) = traffic(ctx, lambda: run_python_llm(ctx, [llm_request(
        url, body, {"Authorization": f"Bearer {SECRET}"})]))
    expect_answers(got, [200])
    out = probe.stop()
    _, llm = sole_llm_exchange(out, res.pid, srv.https_port, CHAT, window)
    check_openai_chat(llm, S.CHAT_USAGE)
    check_attrs(llm, {"gen_ai.request.max_tokens": 100, "gen_ai.request.temperature": 0.3,
                      "gen_ai.response.id": S.CHAT_ID,
                      "gen_ai.response.finish_reasons": ["stop"], "output.value": S.CHAT_TEXT,
                      "llm.input_messages.0.message.role": "system",
                      "llm.output_messages.0.message.role": "assistant",
                      "llm.output_messages.0.message.content": S.CHAT_TEXT,
                      "llm.input_messages.0.message.content": messages[0]["content"]})
    check_prefix(llm, "input.value", body, limit=INPUT_LIMIT)
    check_cost(llm, "gpt-4o-mini", S.CHAT_USAGE)
