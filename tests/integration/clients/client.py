#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""HTTP(S) client the integration tests run under /usr/bin/python3.

It is a real program on purpose: spanprobe must see its TLS traffic through
the system libssl.so.3 (Python's ssl module uses SSL_write_ex/SSL_read_ex).

usage: client.py CONFIG.json
CONFIG: {"mode": "urllib" | "keepalive",
         "wait": bool,        # print "waiting", then block on stdin first
         "requests": [{"method": "GET", "url": "...", "body": str|null,
                       "headers": {...}}, ...]}
"urllib" opens one connection per request (urllib.request); "keepalive"
sends them all over one http.client connection (same origin required).
Prints a JSON list of {"status": int, "body_len": int} to stdout.
"""
import http.client
import json
import ssl
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT = 30


def body_bytes(req):
    return req["body"].encode() if req.get("body") is not None else None


def urllib_open(context, req, method="GET"):
    """urlopen for one request (method: when the request names none); a
    4xx/5xx answer (HTTPError) is returned as the response it also is."""
    request = urllib.request.Request(req["url"], data=body_bytes(req),
                                     method=req.get("method", method),
                                     headers=req.get("headers", {}))
    try:
        return urllib.request.urlopen(request, context=context, timeout=TIMEOUT)
    except urllib.error.HTTPError as err:  # 4xx/5xx still are answers
        return err


def urllib_one(context, req):
    with urllib_open(context, req) as resp:
        return {"status": resp.status, "body_len": len(resp.read())}


def sized(resp, data):
    return {"status": resp.status, "body_len": len(data)}


def keepalive_all(context, reqs, answer=sized, method="GET"):
    """Every request over one http.client connection to the first one's
    origin; answer(response, body) makes each result."""
    origin = urlsplit(reqs[0]["url"])
    if origin.scheme == "https":
        conn = http.client.HTTPSConnection(origin.hostname, origin.port,
                                           timeout=TIMEOUT, context=context)
    else:
        conn = http.client.HTTPConnection(origin.hostname, origin.port, timeout=TIMEOUT)
    results = []
    for req in reqs:
        url = urlsplit(req["url"])
        target = url.path + ("?" + url.query if url.query else "")
        conn.request(req.get("method", method), target, body=body_bytes(req),
                     headers=req.get("headers", {}))
        resp = conn.getresponse()
        # the whole answer, so the connection is free again
        results.append(answer(resp, resp.read()))
    conn.close()
    return results


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    # The server's certificate is a throwaway self-signed one.
    context = ssl._create_unverified_context()
    if cfg.get("wait"):
        # libssl is loaded and initialised by now: a test can start the probe
        # while we wait and check that already-running processes are traced.
        print("waiting", flush=True)
        sys.stdin.readline()
    if cfg["mode"] == "urllib":
        results = [urllib_one(context, r) for r in cfg["requests"]]
    else:
        results = keepalive_all(context, cfg["requests"])
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
