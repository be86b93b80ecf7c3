# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""BoringSSL linked statically without symbols: Bun and Claude Code from npm
(pinned in bun/package.json; Claude Code's native binary is the optional
platform package @anthropic-ai/claude-code-linux-x64, a Bun single-file
executable of ~400 MB; bun's is @oven/bun-linux-x64). spanprobe finds their
SSL_write/SSL_read with no symbol (userspace/discovery/tls_boringssl.c), and
the tests check the spans against the plaintext the test server logged
(bun/bun_server.py). The server's certificate is signed by a CA the test
makes, which Bun trusts through NODE_EXTRA_CA_CERTS.

Also a near-miss: a small C program (bun/near_miss.c) with BoringSSL's
strings and an ERR_put_error-like function called with SSL_write's error
constants but one: discovery must decline it, say why, and leave it
unharmed.

Registered in cases.CASES, so run.py runs them with the others.
"""
import json
import os
import shutil
import subprocess
import sys
import time

from cases import case
from checks import check_root, expect, of_pid, only, process_root
from harness import PYTHON, Fail, Skip, npm_ci, read_line
from llm_cases import check_attrs, check_llm, is_llm, sole_llm_exchange
from otlp import KIND_CLIENT
import llm_server as S

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bun"))
import bun_server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUN_DIR = os.path.join(HERE, "bun")
BUN_BIN = os.path.join("@oven", "bun-linux-x64", "bin", "bun")
CLAUDE_BIN = os.path.join("@anthropic-ai", "claude-code-linux-x64", "claude")
MODEL = "claude-3-5-haiku-20241022"
RUN_TIMEOUT = 120

_deps = None  # None until checked, then "" (fine) or why the install failed


def modules():
    """bun/node_modules, by npm ci once per run (~240 MB download)."""
    global _deps
    if _deps is None:
        _deps = npm_ci(BUN_DIR, CLAUDE_BIN, "the Bun and Claude Code tests")
    if _deps:
        raise Fail(_deps)
    return os.path.join(BUN_DIR, "node_modules")


def ca(ctx):
    """(ca.pem, cert.pem, key.pem): a CA and a 127.0.0.1 server certificate
    it signed, made once per run in the suite's scratch directory."""
    d = os.path.join(ctx.suite.tmp, "bun-ca")
    files = tuple(os.path.join(d, n) for n in ("ca.pem", "cert.pem", "key.pem"))
    if os.path.exists(files[2]):
        return files
    os.makedirs(d, exist_ok=True)
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=60)
    cakey, csr, ext = (os.path.join(d, n) for n in ("ca.key", "srv.csr", "ext.cnf"))
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=spanprobe test CA",
        "-days", "1", "-keyout", cakey, "-out", files[0],
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", files[2] + ".tmp", "-out", csr)
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", csr, "-CA", files[0], "-CAkey", cakey, "-CAcreateserial",
        "-days", "1", "-out", files[1], "-extfile", ext)
    os.rename(files[2] + ".tmp", files[2])
    return files


class BunServer:
    """bun/bun_server.py, with the test CA's certificate; netns=True: in a
    new network namespace with only lo up (clients join it by nsenter)."""

    def __init__(self, ctx, netns=False):
        self.ca, cert, key = ca(ctx)
        self.log = os.path.join(ctx.dir, "server-requests.jsonl")
        argv = [PYTHON, os.path.join(BUN_DIR, "bun_server.py"), "--cert", cert, "--key", key]
        self.nsenter = None
        if netns:
            unshare, nsenter, ip = (shutil.which(x) for x in ("unshare", "nsenter", "ip"))
            if not (unshare and nsenter and ip):
                raise Skip("needs unshare(1), nsenter(1) and ip(8)")
            self.nsenter = nsenter
            argv = [unshare, "--net", "sh", "-c", f'{ip} link set lo up && exec "$@"', "sh", *argv]
        self.proc = ctx.spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env={**os.environ, "BUN_SERVER_LOG": self.log})
        line = read_line(self.proc.stdout, time.monotonic() + 30)
        if not line:
            raise Fail("bun_server.py did not report its ports")
        info = json.loads(line)
        self.pid, self.port = info["pid"], info["https_port"]

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def seen(self):
        try:
            with open(self.log) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []


def bun_env(srv):
    return {**os.environ, "NODE_EXTRA_CA_CERTS": srv.ca, "NO_COLOR": "1"}


def fetch_requests(srv):
    """A JSON GET, an Anthropic streamed call (SSE), a plain SSE stream."""
    body = json.dumps({"model": MODEL, "max_tokens": 64, "stream": True,
                       "messages": [{"role": "user", "content": "Say hello from Bun."}]})
    return [
        {"method": "GET", "url": srv.url("/v1/models"), "headers": {}},
        {"method": "POST", "url": srv.url("/v1/messages"), "body": body,
         "headers": {"content-type": "application/json", "x-api-key": "sk-ant-test-key",
                     "anthropic-version": "2023-06-01"}},
        {"method": "GET", "url": srv.url("/sse"), "headers": {"accept": "text/event-stream"}},
    ]


def start_bun(ctx, srv, wait):
    mods = modules()
    cfg = os.path.join(ctx.dir, "bun-requests.json")
    with open(cfg, "w") as f:
        json.dump({"requests": fetch_requests(srv)}, f)
    shutil.copy(os.path.join(BUN_DIR, "fetch.mjs"), ctx.dir)
    proc = ctx.spawn([os.path.join(mods, BUN_BIN), "fetch.mjs", cfg, *(["wait"] if wait else [])],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     env=bun_env(srv))
    if wait and read_line(proc.stdout, time.monotonic() + 30) != "waiting":
        raise Fail(f"bun {proc.pid} did not get ready")
    return proc


def finish_bun(proc, go):
    try:
        out, err = proc.communicate(b"go\n" if go else None, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Fail("bun did not finish")
    if proc.returncode != 0:
        raise Fail(f"bun exited {proc.returncode}: {err.decode(errors='replace')[-400:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


def check_bun_spans(out, pid, srv, got):
    """Every request the server saw from Bun is a CLIENT span of the Bun
    process with the method, path, status and user agent the server saw;
    the streamed Anthropic call is an LLM span whose input is the body the
    server read and whose output is the text it streamed."""
    expect([g["status"] for g in got] == [200, 200, 200], f"bun got {got}")
    expect(all(f"data: {e}\n\n" in got[2]["text"] for e in bun_server.SSE_EVENTS),
           f"bun did not read the whole SSE stream: {got[2]}")
    seen = srv.seen()
    expect(len(seen) == 3, f"the server saw {len(seen)} requests, want 3: {seen}")
    spans = [s for s in of_pid(out, pid) if s.kind == KIND_CLIENT and not is_llm(s)
             and s.attrs.get("server.port") == srv.port]
    for req in seen:
        path = req["path"].split("?")[0]
        mine = [s for s in spans if s.attrs.get("url.path") == path]
        span = only(mine, f"CLIENT span {req['method']} {path} from bun pid {pid}", spans)
        a = span.attrs
        expect(a.get("http.request.method") == req["method"] and
               a.get("http.response.status_code") == req["status"] and
               a.get("network.protocol.version") == "1.1",
               f"{span.name!r} disagrees with what the server saw: {req['method']} "
               f"{req['status']}", [span])
        expect(a.get("user_agent.original") == req["headers"].get("user-agent"),
               f"user_agent.original {a.get('user_agent.original')!r}, the server saw "
               f"{req['headers'].get('user-agent')!r}", [span])
    llms = [s for s in of_pid(out, pid) if is_llm(s)]
    llm = only(llms, f"LLM span of bun pid {pid}", of_pid(out, pid))
    sent = [r for r in seen if r["path"] == "/v1/messages"][0]["body"]
    check_llm(llm, name=f"chat {MODEL}", op="chat", provider="anthropic", request_model=MODEL,
              response_model=MODEL, usage=S.ANTHROPIC_STREAM_USAGE)
    check_attrs(llm, {"gen_ai.request.stream": True, "input.value": sent,
                      "gen_ai.response.id": S.ANTHROPIC_STREAM_ID})
    text = "".join(S.ANTHROPIC_STREAM_TEXT)
    expect(text in (llm.attrs.get("output.value") or ""),
           f"output.value {llm.attrs.get('output.value')!r} lacks {text!r}", [llm])


@case
def bun_fetch_https(ctx):
    """bun from npm started after spanprobe: fetch over HTTPS (HTTP/1.1,
    keep-alive: one connection), a JSON GET, a streamed Anthropic call, an
    SSE stream."""
    srv = BunServer(ctx)
    # bun on PATH, as installed: spanprobe attaches to it at start, so a
    # process exec'd later is probed from its first instruction (its first
    # request goes out ~50 ms after exec, before an exec-time attach ends)
    path = os.path.dirname(os.path.join(modules(), BUN_BIN))
    probe = ctx.probe(env={**os.environ, "PATH": f"{path}:{os.environ.get('PATH', '')}"})
    proc = start_bun(ctx, srv, wait=False)
    got = finish_bun(proc, go=False)
    out = probe.stop()
    check_bun_spans(out, proc.pid, srv, got)


@case
def bun_fetch_https_before(ctx):
    """A bun process that runs before spanprobe starts: attached from the
    /proc walk at start, its later requests seen whole."""
    srv = BunServer(ctx)
    proc = start_bun(ctx, srv, wait=True)
    probe = ctx.probe()
    got = finish_bun(proc, go=True)
    out = probe.stop()
    check_bun_spans(out, proc.pid, srv, got)


@case
def claude_code_print(ctx):
    """The current Claude Code binary from npm, `claude -p hi`, against the
    fake Anthropic API in a loopback-only network namespace: its one model
    call is a full LLM span (model, tokens, the request body the server
    read) under the process's invoke_agent root."""
    mods = modules()
    srv = BunServer(ctx, netns=True)
    home = os.path.join(ctx.dir, "home")
    os.makedirs(home)
    probe = ctx.probe()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "ANTHROPIC_BASE_URL": f"https://127.0.0.1:{srv.port}",
           "ANTHROPIC_API_KEY": "sk-ant-api03-spanprobe-test-key",
           "NODE_EXTRA_CA_CERTS": srv.ca, "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1"}
    proc = ctx.spawn([srv.nsenter, "--net", "-t", str(srv.pid), os.path.join(mods, CLAUDE_BIN),
                      "-p", "hi"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, env=env)
    try:
        answer, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Fail("claude -p did not finish")
    expect(proc.returncode == 0, f"claude exited {proc.returncode}: {err.decode()[-400:]}")
    text = "".join(S.ANTHROPIC_STREAM_TEXT)
    expect(text in answer.decode(), f"claude printed {answer!r}, want {text!r}")
    out = probe.stop()
    seen = [r for r in srv.seen() if r["path"].startswith("/v1/messages")]
    expect(len(seen) == 1, f"the server saw {len(seen)} /v1/messages calls, want 1")
    # nsenter execs claude: the same pid
    llms = [s for s in of_pid(out, proc.pid) if is_llm(s)]
    llm = only(llms, f"LLM span of claude pid {proc.pid}", of_pid(out, proc.pid))
    model = json.loads(seen[0]["body"])["model"]
    check_llm(llm, name=f"chat {model}", op="chat", provider="anthropic", request_model=model,
              response_model=model, usage=S.ANTHROPIC_STREAM_USAGE)
    check_attrs(llm, {"gen_ai.request.stream": True, "gen_ai.response.id": S.ANTHROPIC_STREAM_ID})
    # a 50 KB request: input.value is bounded, and must be what the server read
    inp = llm.attrs.get("input.value") or ""
    expect(len(inp) >= 1024 and seen[0]["body"].startswith(inp),
           f"input.value ({len(inp)} chars) is not the start of the {len(seen[0]['body'])}-char "
           f"body the server read", [llm])
    expect(llm.attrs.get("output.value") == text,
           f"output.value {llm.attrs.get('output.value')!r}, want {text!r}", [llm])
    root = process_root(out, proc.pid)
    expect(root.attrs.get("gen_ai.operation.name") == "invoke_agent",
           f"claude's root {root.name!r} is not an invoke_agent span", [root, llm])
    expect(llm.trace_id == root.trace_id, "the LLM span is not in claude's agent trace",
           [root, llm])


def near_miss_binary(ctx):
    """bun/near_miss.c built into the test's directory."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise Skip("needs a C compiler")
    exe = os.path.join(ctx.dir, "near_miss")
    res = subprocess.run([cc, "-O1", "-no-pie", "-fno-inline", "-o", exe,
                          os.path.join(BUN_DIR, "near_miss.c")], capture_output=True, timeout=60)
    if res.returncode:
        raise Fail(f"cannot build near_miss.c: {res.stderr.decode()[-400:]}")
    return exe


@case
def boringssl_near_miss(ctx):
    """A binary that has BoringSSL's file name and an ERR_put_error-like
    function called with SSL_write's constants except SSL_R_BAD_LENGTH:
    --list-tls-probes declines it and says why; traced, it runs unharmed
    and nothing is attached to it."""
    exe = near_miss_binary(ctx)
    rc, err = ctx.run_to_end([ctx.suite.binary, "--list-tls-probes", exe], 30, "--list-tls-probes")
    expect(rc != 0, f"--list-tls-probes found probes in the near-miss: {err}")
    expect("boringssl found but not probed" in err and "SSL_write" in err,
           f"--list-tls-probes does not say why it declined: {err!r}")
    probe = ctx.probe("-v")
    # it waits on stdin until spanprobe has looked at it, then runs again
    proc = ctx.spawn([exe, "run"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
    try:
        line = probe.wait_stderr(rf"/proc/{proc.pid}/exe: boringssl found but not probed",
                                 "the decline", 20)
    finally:
        pout, perr = proc.communicate(timeout=30)
    expect(proc.returncode == 0 and b"near_miss ran" in pout,
           f"the near-miss exited {proc.returncode}: {perr!r}")
    expect("SSL_write" in line, f"the decline does not name the rule that failed: {line}")
    probe.stop()
    expect(not any("attached" in line and "near_miss" in line for line in probe.stderr_lines),
           "spanprobe attached to the near-miss")
