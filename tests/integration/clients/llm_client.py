#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""An LLM API client the LLM integration tests run under /usr/bin/python3,
the way the provider SDKs' simplest callers do: urllib.request, one
connection per request, a JSON body, and a streamed answer read line by line
as it arrives (SSE or NDJSON).

usage: llm_client.py CONFIG.json
CONFIG: {"keepalive": bool,   # all requests over one http.client connection
         "requests": [{"method": "POST", "url": "...", "headers": {...},
                       "body": str}, ...]}
Prints a JSON list of {"status", "content_type", "lines", "text"} to stdout,
"text" being the body (decoded as UTF-8) so a test can see what it got.
"""
import json
import ssl
import sys

# client.py's request plumbing (the tests copy both into the test's
# directory, this script's, which is where Python looks first)
from client import keepalive_all, urllib_open


def one(context, req):
    with urllib_open(context, req, "POST") as resp:
        lines = []
        for line in resp:  # as each line arrives, as a streaming caller does
            lines.append(line)
        return {"status": resp.status, "content_type": resp.headers.get("Content-Type"),
                "lines": len(lines), "text": b"".join(lines).decode(errors="replace")}


def answer(resp, data):
    return {"status": resp.status, "content_type": resp.getheader("Content-Type"),
            "lines": len(data.splitlines()), "text": data.decode(errors="replace")}


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    context = ssl._create_unverified_context()  # the test cert is self-signed
    if cfg.get("keepalive"):
        results = keepalive_all(context, cfg["requests"], answer, "POST")
    else:
        results = [one(context, r) for r in cfg["requests"]]
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
