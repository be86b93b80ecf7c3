# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A real agent from npm, system-wide: Gemini CLI (pinned in
real_agents/package.json, with the MCP filesystem server), run headless
(`gemini -p ... --yolo`) against a fake Gemini API (real_agents/
gemini_server.py) inside a network namespace that has only loopback, so
nothing it sends can leave the machine. The model asks for a shell command
and an MCP tool; the test checks the agent's tree: its root, its model
calls, its tool calls with the command they ran, and the MCP requests it
made to the server it spawned.

Registered in cases.CASES, so run.py runs them with the others.
"""
import json
import os
import shutil
import subprocess
import time

from agent_cases import NEST_SLACK_NS, child_of, in_trace, llm_spans, mcp_spans, one, tool_window
from cases import case
from checks import expect
from harness import NODE, PYTHON, Fail, Skip, npm_ci, read_line
from otlp import KIND_CLIENT, KIND_SERVER, STATUS_ERROR

HERE = os.path.dirname(os.path.abspath(__file__))
REAL_DIR = os.path.join(HERE, "real_agents")
GEMINI_JS = os.path.join("@google", "gemini-cli", "bundle", "gemini.js")
GEMINI_BIN = os.path.join(".bin", "gemini")  # what `npm i -g` puts on PATH: a symlink to it
FS_SERVER_JS = os.path.join("@modelcontextprotocol", "server-filesystem", "dist", "index.js")
SHELL_CALL_ID = "call-shell-ls"
RUN_TIMEOUT = 120
LISTED = ("alpha.txt", "beta.txt")
FINAL_TEXT = "All done: the directory is listed."  # gemini_server.py's last answer

_deps = None  # None until checked, then "" (fine) or why the install failed


def ensure_deps():
    """real_agents/node_modules, by npm ci once per run."""
    global _deps
    if _deps is None:
        _deps = npm_ci(REAL_DIR, GEMINI_JS, "the real-agent tests")
    if _deps:
        raise Fail(_deps)
    return os.path.join(REAL_DIR, "node_modules")


class NetnsServer:
    """gemini_server.py in a new network namespace with only lo, up. The
    agent joins that namespace (nsenter --net -t pid), so 127.0.0.1 is all
    it can reach."""

    def __init__(self, ctx):
        unshare, nsenter, ip = (shutil.which(x) for x in ("unshare", "nsenter", "ip"))
        if not (unshare and nsenter and ip):
            raise Skip("needs unshare(1), nsenter(1) and ip(8)")
        self.nsenter = nsenter
        self.log = os.path.join(ctx.dir, "gemini-requests.jsonl")
        self.proc = ctx.spawn([unshare, "--net", "sh", "-c", f'{ip} link set lo up && exec "$@"',
                               "sh", PYTHON, os.path.join(REAL_DIR, "gemini_server.py"),
                               "--cert", ctx.suite.cert, "--key", ctx.suite.key],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        line = read_line(self.proc.stdout, time.monotonic() + 30)
        if not line:
            err = self.proc.stderr.read1(2000).decode(errors="replace") if self.proc.poll() else ""
            raise Fail(f"the fake Gemini API did not start in its network namespace: {err!r}")
        info = json.loads(line)
        self.pid, self.port = info["pid"], info["https_port"]

    def requests(self):
        try:
            with open(self.log) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []


def gemini_home(ctx, modules, listed):
    """A HOME whose ~/.gemini/settings.json turns off everything that would
    phone home (telemetry, usage statistics, update checks, IDE) and adds
    the filesystem MCP server, trusted (no confirmation) and run by node."""
    home = os.path.join(ctx.dir, "home")
    os.makedirs(os.path.join(home, ".gemini"))
    settings = {
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False,
                    "checkpointing": {"enabled": False}},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "ide": {"enabled": False},
        "security": {"folderTrust": {"enabled": False},
                     "auth": {"selectedType": "gemini-api-key"}},
        # child_process rather than a pty: the command's own process tree
        "tools": {"shell": {"enableInteractiveShell": False}},
        "mcpServers": {"filesystem": {"command": NODE,
                                      "args": [os.path.join(modules, FS_SERVER_JS), listed],
                                      "trust": True}},
    }
    with open(os.path.join(home, ".gemini", "settings.json"), "w") as f:
        json.dump(settings, f, indent=2)
    return home


def dump(out, path):
    """Every span, one line each, for SPANPROBE_KEEP=1 and the report."""
    with open(path, "w") as f:
        for s in sorted(out.spans, key=lambda s: s.start):
            f.write(s.brief() + "\n")


def check_server_saw(srv, port):
    """What the agent sent the fake API: two streamed turns, the second
    with both results, the MCP server's listing among them; only known
    routes, only to 127.0.0.1."""
    reqs = srv.requests()
    routes = [r["path"] for r in reqs]
    expect(all(r["status"] == 200 for r in reqs),
           f"the agent called routes the fake API does not serve: {routes}")
    expect(all(r["headers"].get("host") == f"127.0.0.1:{port}" for r in reqs),
           f"requests to another host: {[r['headers'].get('host') for r in reqs]}")
    turns = [r for r in reqs if ":streamGenerateContent" in r["path"]]
    expect(len(turns) == 2, f"want 2 streamGenerateContent requests, got {routes}")
    results = {}
    for part in (turns[1]["body"].get("contents") or [{}])[-1].get("parts", []):
        fr = part.get("functionResponse") or {}
        results[fr.get("name")] = (fr.get("id"), json.dumps(fr.get("response")))
    expect(set(results) == {"run_shell_command", "mcp_filesystem_list_directory"},
           f"the second turn does not answer both calls: {sorted(results)}")
    expect(results["run_shell_command"][0] == SHELL_CALL_ID,
           f"the shell result's id is {results['run_shell_command'][0]!r}, want {SHELL_CALL_ID}")
    for name, (_, text) in results.items():
        expect(all(f in text for f in LISTED), f"{name}'s result does not list {LISTED}: "
               f"{text[:300]}")
    return len(turns), results["mcp_filesystem_list_directory"][0]


def ancestors(span, by_id):
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        yield span


@case
def gemini_cli(ctx):
    """Gemini CLI 0.61.0 from npm, headless, against the fake Gemini API in
    a loopback-only network namespace: one invoke_agent root for the node
    process that calls the model, its LLM spans, the run_shell_command tool
    window with the ls it ran under it, the MCP filesystem server's
    requests as CLIENT spans in the agent with SERVER spans in the server."""
    modules = ensure_deps()
    # The workspace: the filesystem server serves the roots the CLI gives
    # it (its workspace), whatever its command line allowed.
    listed = os.path.join(ctx.dir, "work")
    os.makedirs(listed)
    for name in LISTED:
        open(os.path.join(listed, name), "w").close()
    home = gemini_home(ctx, modules, listed)
    srv = NetnsServer(ctx)
    command = f"ls -la {listed}"
    script = {"calls": [
        {"name": "run_shell_command", "args": {"command": command}, "id": SHELL_CALL_ID},
        {"name": "mcp_filesystem_list_directory", "args": {"path": listed}}]}
    prompt = f"List the files, please.\nSCRIPT {json.dumps(script)}"
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TERM": "dumb", "NO_COLOR": "1",
           "GEMINI_API_KEY": "fake-test-key",
           # HTTPS, as the real API: the agent's TLS is node's own OpenSSL
           "GOOGLE_GEMINI_BASE_URL": f"https://127.0.0.1:{srv.port}",
           "NODE_TLS_REJECT_UNAUTHORIZED": "0"}  # the test's self-signed certificate
    probe = ctx.probe()
    t0 = time.time_ns()
    proc = ctx.spawn([srv.nsenter, "--net", "-t", str(srv.pid), "--",
                      os.path.join(modules, GEMINI_BIN), "-p", prompt, "--yolo",
                      "-m", "gemini-2.5-flash"],
                     cwd=listed, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Fail(f"gemini did not finish within {RUN_TIMEOUT} s; the fake API got "
                   f"{len(srv.requests())} request(s)")
    t1 = time.time_ns()
    stdout, stderr = stdout.decode(errors="replace"), stderr.decode(errors="replace")
    out = probe.stop()
    dump(out, os.path.join(ctx.dir, "spans.txt"))
    expect(proc.returncode == 0, f"gemini exited {proc.returncode}: {stderr[-600:]}")
    expect(FINAL_TEXT in stdout, f"gemini did not print the model's final text: {stdout[-300:]!r}")
    turns, mcp_call_id = check_server_saw(srv, srv.port)

    # The agent: the node process that calls the model, which is the one
    # the launcher (proc.pid, relaunching itself with a bigger heap) runs.
    roots = [s for s in out.spans if s.name.startswith("invoke_agent")
             and "gemini" in s.attrs.get("process.command_line", "")]
    root = one(roots, "invoke_agent span for Gemini CLI", out.spans[:40])
    ev = [root]
    agent = root.attrs.get("process.pid")
    expect(root.name == "invoke_agent gemini" and root.attrs.get("gen_ai.agent.name") == "gemini"
           and root.attrs.get("openinference.span.kind") == "AGENT",
           f"the agent is named {root.name!r}, want 'invoke_agent gemini' (the bin the user "
           "runs)", ev)
    expect(root.parent_id == "", "the agent is not a trace root", ev)
    expect(agent != proc.pid, "the agent is the gemini launcher, not the child it relaunches "
           "(GEMINI_CLI_NO_RELAUNCH) that calls the model", ev)
    expect(not [s for s in out.spans if s.attrs.get("process.pid") == proc.pid],
           "the launcher, which makes no model call, has a span of its own",
           [s for s in out.spans if s.attrs.get("process.pid") == proc.pid])
    expect(t0 <= root.start and root.end <= t1, "the agent span lies outside the run", ev)
    trace = in_trace(out, root)
    by_id = {s.span_id: s for s in out.spans}

    calls = [s for s in trace if s.kind == KIND_CLIENT and "server.address" in s.attrs]
    expect(calls and all((s.attrs["server.address"], s.attrs.get("server.port"))
                         == ("127.0.0.1", srv.port) for s in calls),
           "the agent's tree called something other than the fake API (or nothing)", calls)
    llms = sorted(llm_spans(trace), key=lambda s: s.start)
    expect(len(llms) == turns, f"want {turns} LLM spans in the agent's trace, got {len(llms)}",
           trace)
    for s in llms:
        expect(s.name == "generate_content gemini-2.5-flash"
               and s.attrs.get("gen_ai.provider.name") == "gcp.gemini"
               and s.attrs.get("process.pid", s.pid) == agent
               and root in ancestors(s, by_id), f"LLM span {s.name!r} is not the agent's "
               "gcp.gemini generate_content call", [s, root])
        expect(s.attrs.get("gen_ai.usage.input_tokens") == 40
               and s.attrs.get("gen_ai.usage.output_tokens") == 12
               and s.attrs.get("gen_ai.response.finish_reasons") == ["STOP"],
               "the LLM span's usage or finish reason is not the streamed one", [s])
    expect(FINAL_TEXT in llms[-1].attrs.get("output.value", ""),
           "the last LLM span does not carry the answer streamed in two chunks", llms[-1:])

    shell = tool_window(out, trace, SHELL_CALL_ID, "run_shell_command")
    child_of(shell, root, "the shell tool call", trace)
    expect(llms[0].end - NEST_SLACK_NS <= shell.start and shell.end <= llms[1].start
           + NEST_SLACK_NS, "the shell tool window does not run from the asking response to "
           "the answering request", [shell] + llms)
    ls = one([s for s in trace if s.attrs.get("process.executable.name") == "ls"], "ls span",
             trace)
    expect(ls.attrs.get("process.command_line") == command, "ls ran another command", [ls])
    chain = list(ancestors(ls, by_id))
    expect(shell in chain, "the ls the tool ran is not under its execute_tool window",
           [ls, shell] + chain)
    wrapper = chain[chain.index(shell) - 1] if shell in chain and chain.index(shell) else ls
    expect(wrapper.attrs.get("process.executable.name") == "bash"
           and command in wrapper.attrs.get("process.command_line", ""),
           "the window's child is not the CLI's bash -c wrapper of the command", [wrapper])

    # What a user would expect but spanprobe on main does not give yet
    # (issue "real agent"): each is reported, all at once, as a gap.
    gaps, gap_spans = [], []

    def gap(cond, message, spans):
        if not cond:
            gaps.append(message)
            gap_spans.extend(s for s in spans if s not in gap_spans)

    mcp_win = one([s for s in trace if s.name == "execute_tool mcp_filesystem_list_directory"],
                  "execute_tool mcp_filesystem_list_directory span", trace)
    child_of(mcp_win, root, "the MCP tool call", trace)
    gap("spanprobe.tool.unanswered" not in mcp_win.attrs
        and mcp_win.end <= llms[1].start + NEST_SLACK_NS,
        "the MCP tool call (no id from the model; the CLI answered it with functionResponse "
        f"id {mcp_call_id!r}, name mcp_filesystem_list_directory) is not closed by its "
        "functionResponse: an unknown id must fall back to the name", [mcp_win, llms[1]])
    servers = [s for s in trace if s.attrs.get("process.executable.name") == "node"
               and FS_SERVER_JS in s.attrs.get("process.command_line", "")]
    fs = one(servers, "process span of the MCP filesystem server", trace)
    child_of(fs, root, "the MCP server the agent spawned", trace)
    fs_pid = fs.attrs.get("process.pid")
    mcp_all = [s for s in out.spans if "mcp.method.name" in s.attrs
               and s.attrs.get("process.pid", s.pid) in (agent, fs_pid)]
    for method, tool in (("initialize", None), ("tools/list", None),
                         ("tools/call", "list_directory")):
        what = f"{method} {tool or ''}".strip()
        c = mcp_spans(out, method, KIND_CLIENT, agent, tool)
        v = mcp_spans(out, method, KIND_SERVER, fs_pid, tool)
        gap(len(c) == 1 and len(v) == 1 and v[0].parent_id == c[0].span_id
            and c[0].trace_id == root.trace_id,
            f"MCP over stdio from a node host: want one {what!r} CLIENT span in the agent and "
            f"its SERVER child in the server, got {len(c)} and {len(v)} (node's child stdio "
            "is an AF_UNIX socketpair, not a pipe)", c + v)
    back = (mcp_spans(out, "roots/list", KIND_CLIENT, fs_pid),
            mcp_spans(out, "roots/list", KIND_SERVER, agent))
    gap(len(back[0]) == 1 and len(back[1]) == 1 and back[1][0].parent_id == back[0][0].span_id,
        "the server's roots/list request back to the CLI: want a CLIENT span in the server "
        f"and its SERVER child in the agent, got {len(back[0])} and {len(back[1])}",
        back[0] + back[1])
    call = mcp_spans(out, "tools/call", KIND_CLIENT, agent, "list_directory")
    gap(len(call) == 1 and mcp_win in ancestors(call[0], by_id),
        "the MCP tools/call CLIENT span is not under its execute_tool window", call + [mcp_win])
    if gaps:
        raise Fail(f"spanprobe gets {len(gaps)} thing(s) wrong with Gemini CLI (known gaps, "
                   "for the C side): " + " | ".join(gaps),
                   gap_spans + [s for s in mcp_all + [fs, root] if s not in gap_spans])


@case
def mcp_filesystem_npm(ctx):
    """The real MCP filesystem server from npm (pinned beside Gemini CLI),
    spawned over pipes by a stdlib host (real_agents/fs_client.py),
    system-wide: per request one CLIENT span in the host and one SERVER span
    in the server, its child, in the host's trace; the server's isError
    answers (a path outside its directory, an unknown tool) ERROR."""
    modules = ensure_deps()
    folder = os.path.join(ctx.dir, "served")
    os.makedirs(folder)
    with open(os.path.join(folder, "alpha.txt"), "w") as f:
        f.write("alpha text\n")
    probe = ctx.probe()
    res = ctx.run([PYTHON, os.path.join(REAL_DIR, "fs_client.py"),
                   os.path.join(modules, FS_SERVER_JS), folder])
    expect(res.rc == 0, f"the MCP host exited {res.rc}: {res.stderr[-600:]}")
    info = json.loads(res.stdout.strip().splitlines()[-1])
    cpid, spid = info["client_pid"], info["server_pid"]
    out = probe.stop()
    dump(out, os.path.join(ctx.dir, "spans.txt"))
    answers = {c["id"]: c for c in info["calls"]}
    expect("alpha text" in json.dumps(answers[3]["result"])
           and answers[4]["result"].get("isError") and answers[5]["result"].get("isError"),
           f"the server did not answer as expected: {info['calls'][2:]}")

    host = one([s for s in out.spans if s.name == "invoke_agent fs_client.py"
                and s.attrs.get("process.pid") == cpid], "the MCP host's AGENT span",
               out.spans[:40])
    mcp = [s for s in out.spans if "mcp.method.name" in s.attrs]
    server = one([s for s in out.spans if s.attrs.get("process.pid") == spid
                  and "mcp.method.name" not in s.attrs and s.kind not in (KIND_CLIENT,
                                                                           KIND_SERVER)],
                 "the MCP server's process span", [host])
    child_of(server, host, "the MCP server the host spawned", [host])
    for rid, method, tool, error in ((0, "initialize", None, False),
                                     (1, "tools/list", None, False),
                                     (2, "tools/call", "list_directory", False),
                                     (3, "tools/call", "read_text_file", False),
                                     (4, "tools/call", "read_text_file", True),
                                     (5, "tools/call", "no_such_tool", True)):
        what = f"{method} {tool or ''}".strip()
        pair = []
        for kind, pid, side in ((KIND_CLIENT, cpid, "CLIENT"), (KIND_SERVER, spid, "SERVER")):
            pair.append(one([s for s in mcp_spans(out, method, kind, pid, tool)
                             if s.attrs.get("jsonrpc.request.id") == str(rid)],
                            f"{side} span {what!r} (id {rid}) in the "
                            f"{'host' if side == 'CLIENT' else 'server'}", mcp))
        c, s = pair
        ev = [c, s]
        expect(c.name == what and s.name == what, f"MCP spans named {c.name!r}/{s.name!r}, "
               f"want {what!r}", ev)
        expect(s.parent_id == c.span_id and c.trace_id == s.trace_id == host.trace_id,
               f"the SERVER span of {what!r} (id {rid}) is not the CLIENT span's child in the "
               "host's trace", ev + [host])
        expect(c.attrs.get("network.transport") == "pipe", f"{what!r} is not over a pipe", ev)
        expect(c.start <= s.start and s.end <= c.end + NEST_SLACK_NS,
               f"the SERVER span of {what!r} is not within its CLIENT span", ev)
        for span in ev:
            expect((span.status_code == STATUS_ERROR
                    and span.attrs.get("error.type") == "tool_error") == error,
                   f"{what!r} (id {rid}) is {'not ' if error else ''}ERROR tool_error", [span])
