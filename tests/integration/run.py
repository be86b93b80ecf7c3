#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""spanprobe integration tests: real eBPF, real clients, real servers.

usage: python3 tests/integration/run.py [TEST ...]   (from the repo root; all
tests when none is named). Needs root and build/spanprobe (`make`).

The OTLP export tests (otlp_cases.py) also need node, and npm the first time:
the OTLP test receiver's modules are installed with `npm ci` in
tests/integration/otlp_receiver/ when missing, and the real-agent tests'
(real_agent_cases.py: Gemini CLI, the MCP filesystem server) in
tests/integration/real_agents/. The LLM-call tests
(llm_cases.py) run curl, python and node's fetch against a fake LLM API
server (llm_server.py). The HTML report tests (html_cases.py) run headless
Chromium on pages made by build/tests/html_page.

Env: SPANPROBE=path overrides the binary; SPANPROBE_REQUIRE_BPF=1 turns
"cannot trace here" skips (not root, BPF fails to load) into failures;
SPANPROBE_KEEP=1 keeps the scratch directory (outputs, stderr) for debugging.
Prints PASS/FAIL/SKIP per test and ends with "N passed, N failed[, N skipped]";
exits 1 if any test failed.
"""
import sys

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import cases  # noqa: E402
import harness  # noqa: E402
import otlp_cases  # noqa: E402,F401  (registers the OTLP export tests in cases.CASES)
import llm_cases  # noqa: E402,F401  (registers the LLM-call tests in cases.CASES)
import cli_cases  # noqa: E402,F401  (registers the stop and record/replay tests in cases.CASES)
import agent_cases  # noqa: E402,F401  (registers the agent-tree tests in cases.CASES)
import connect_cases  # noqa: E402,F401  (registers the failed-connect tests in cases.CASES)
import probe_cases  # noqa: E402,F401  (registers the --probe and --usdt tests in cases.CASES)
import mcp_cases  # noqa: E402,F401  (registers the MCP over HTTP test in cases.CASES)
import real_agent_cases  # noqa: E402,F401  (registers the Gemini CLI test in cases.CASES)
import bun_cases  # noqa: E402,F401  (registers the Bun and Claude Code tests in cases.CASES)
import go_cases  # noqa: E402,F401  (registers the Go crypto/tls tests in cases.CASES)
import rustls_cases  # noqa: E402,F401  (registers the rustls client tests in cases.CASES)
import report_cases  # noqa: E402,F401  (registers the spanprobe report test in cases.CASES)
import grpc_cases  # noqa: E402,F401  (registers the gRPC tests in cases.CASES)
import html_cases  # noqa: E402,F401  (registers the HTML report page tests in cases.CASES)
import h2_cases  # noqa: E402,F401  (registers the HTTP/2 tests in cases.CASES)

STDERR_TAIL = 20
MAX_SPANS_SHOWN = 30
MAX_REQUESTS_SHOWN = 20


def indent(text):
    return "\n".join("    " + line for line in text.splitlines())


def evidence(ctx, spans):
    """What the C side needs to see on a failure: spanprobe's stderr tail
    and the spans the failed assertion was about."""
    for probe in ctx.probes:
        tail = probe.stderr_lines[-STDERR_TAIL:]
        print(f"  spanprobe stderr (last {len(tail)} lines):")
        print(indent("\n".join(tail) or "(empty)"))
    for rcv in ctx.receivers:
        reqs = rcv.requests()
        print(f"  OTLP receiver {' '.join(rcv.args) or '(default)'} on port {rcv.port}: "
              f"{len(reqs)} request(s)")
        print(indent("\n".join(receiver_brief(r) for r in reqs[:MAX_REQUESTS_SHOWN]) or "(none)"))
        if rcv.stderr.strip():
            print(indent("receiver stderr: " + rcv.stderr.strip()[-600:]))
    if spans:
        print(f"  spans ({min(len(spans), MAX_SPANS_SHOWN)} of {len(spans)}):")
        print(indent("\n".join(s.brief() for s in spans[:MAX_SPANS_SHOWN])))


def receiver_brief(req):
    """One line per request the OTLP receiver got."""
    spans = req.get("spans")
    names = ", ".join(f"{s['name']}/{s['spanId']}" for s in (spans or [])[:6])
    more = f" +{len(spans) - 6}" if spans and len(spans) > 6 else ""
    return (f"#{req.get('seq')} t={req.get('time_ms')} {req.get('method')} {req.get('path')} "
            f"{req.get('content_type')} enc={req.get('content_encoding') or req.get('grpc_encoding')} "
            f"-> {req.get('status')}{'/grpc ' + str(req['grpc_status']) if req.get('grpc_status') is not None else ''} "
            f"spans={'undecodable' if spans is None else len(spans)} [{names}{more}]"
            f"{' problems: ' + '; '.join(req['problems'][:3]) if req.get('problems') else ''}")


def unavailable_reason():
    """Why no test can trace here, or None. (BPF failing to load is only
    known per test, from spanprobe's own exit before "ready".)"""
    if os.geteuid() != 0:
        return "not root"
    return None


def run_one(suite, name, skip_reason):
    """Runs one test; returns "passed", "failed" or "skipped"."""
    def skip(reason):
        if suite.require_bpf:
            print(f"FAIL {name}: {reason} (SPANPROBE_REQUIRE_BPF=1)")
            return "failed"
        print(f"SKIP {name}: {reason}")
        return "skipped"

    if skip_reason:
        return skip(skip_reason)
    if not os.access(suite.binary, os.X_OK):
        print(f"FAIL {name}: {suite.binary} is missing (run make)")
        return "failed"
    ctx = harness.Context(suite, name)
    started = time.monotonic()
    try:
        cases.CASES[name](ctx)
    except (harness.Skip, harness.ProbeUnavailable) as err:
        return skip(str(err))
    except harness.Fail as err:
        print(f"FAIL {name}: {err}")
        evidence(ctx, err.spans)
        return "failed"
    except Exception:  # a bug in the test or an unexpected crash: still report
        print(f"FAIL {name}: unexpected error")
        print(indent(traceback.format_exc().rstrip()))
        evidence(ctx, [])
        return "failed"
    finally:
        ctx.cleanup()
    print(f"PASS {name} ({time.monotonic() - started:.1f}s)")
    return "passed"


def main(argv):
    names = argv or list(cases.CASES)
    unknown = [n for n in names if n not in cases.CASES]
    if unknown:
        print(f"unknown test(s): {', '.join(unknown)}; known: {', '.join(cases.CASES)}",
              file=sys.stderr)
        return 2
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    keep = os.environ.get("SPANPROBE_KEEP") == "1"
    with tempfile.TemporaryDirectory(prefix="spanprobe-it-") as tmp:
        if keep:
            tmp = tempfile.mkdtemp(prefix="spanprobe-it-")
            print(f"keeping scratch files in {tmp}")
        try:
            suite = harness.Suite.create(tmp)
        except (OSError, subprocess.SubprocessError) as err:
            # without a certificate no test can run: fail them all, visibly
            for name in names:
                print(f"FAIL {name}: cannot create the test certificate: {err}")
            counts["failed"] = len(names)
        else:
            reason = unavailable_reason()
            for name in names:
                counts[run_one(suite, name, reason)] += 1
                sys.stdout.flush()
    summary = f"{counts['passed']} passed, {counts['failed']} failed"
    if counts["skipped"]:
        summary += f", {counts['skipped']} skipped"
    print(summary)
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
