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
import http.client
import json
import ssl
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT = 30


def one(context, req):
    body = req.get("body")
    request = urllib.request.Request(req["url"], method=req.get("method", "POST"),
                                     data=body.encode() if body is not None else None,
                                     headers=req.get("headers", {}))
    try:
        resp = urllib.request.urlopen(request, context=context, timeout=TIMEOUT)
    except urllib.error.HTTPError as err:
        resp = err
    with resp:
        lines = []
        for line in resp:  # as each line arrives, as a streaming caller does
            lines.append(line)
        return {"status": resp.status, "content_type": resp.headers.get("Content-Type"),
                "lines": len(lines), "text": b"".join(lines).decode(errors="replace")}


def keepalive_all(context, reqs):
    origin = urlsplit(reqs[0]["url"])
    if origin.scheme == "https":
        conn = http.client.HTTPSConnection(origin.hostname, origin.port,
                                           timeout=TIMEOUT, context=context)
    else:
        conn = http.client.HTTPConnection(origin.hostname, origin.port, timeout=TIMEOUT)
    results = []
    for req in reqs:
        url = urlsplit(req["url"])
        body = req.get("body")
        conn.request(req.get("method", "POST"), url.path + ("?" + url.query if url.query else ""),
                     body=body.encode() if body is not None else None,
                     headers=req.get("headers", {}))
        resp = conn.getresponse()
        data = resp.read()  # the whole answer, so the connection is free again
        results.append({"status": resp.status, "content_type": resp.getheader("Content-Type"),
                        "lines": len(data.splitlines()), "text": data.decode(errors="replace")})
    conn.close()
    return results


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    context = ssl._create_unverified_context()  # the test cert is self-signed
    if cfg.get("keepalive"):
        results = keepalive_all(context, cfg["requests"])
    else:
        results = [one(context, r) for r in cfg["requests"]]
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
