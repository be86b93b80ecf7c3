#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A scripted fake Gemini API for the real-agent test (real_agent_cases.py):
Gemini CLI from npm, pointed here with GOOGLE_GEMINI_BASE_URL.

Like servers.py: one process, plain HTTP and HTTPS on ephemeral 127.0.0.1
ports, {"pid", "http_port", "https_port"} on stdout, exits at stdin EOF. The
test starts it inside a network namespace that has only loopback and runs
the agent in the same one.

The script is in the conversation's first user text, as a line
`SCRIPT {"calls": [{"name": ..., "args": {...}, "id": ...}, ...]}` ("name"
as the CLI declares it: `mcp_{server}_{tool}` for an MCP tool; "id" is
optional, as the real API gives one only sometimes). The model asks for all of those
calls at once; once the conversation's last turn carries functionResponse
parts it answers with text. Every request is appended as one JSON line to
gemini-requests.jsonl in the working directory, so the test sees what the
agent sent.

Routes:
  POST /{version}/models/{model}:streamGenerateContent?alt=sse   SSE chunks
  POST /{version}/models/{model}:generateContent                 one JSON answer
  POST /{version}/models/{model}:countTokens                     a token count
  anything else                                                  404, logged
"""
import json
import os
import sys
import threading
from urllib.parse import urlsplit

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from servers import BaseHandler, run  # noqa: E402

LOG = "gemini-requests.jsonl"
FINAL_TEXT = "All done: the directory is listed."
USAGE = {"promptTokenCount": 40, "candidatesTokenCount": 12, "totalTokenCount": 52}
MARK = "SCRIPT "

_log_lock = threading.Lock()


def texts(contents):
    for c in contents or ():
        for p in c.get("parts") or ():
            if isinstance(p, dict) and isinstance(p.get("text"), str):
                yield c.get("role"), p["text"]


def script_of(contents):
    """The calls the first user text that carries a SCRIPT line asks for."""
    for role, text in texts(contents):
        if role != "user":
            continue
        for line in text.splitlines():
            line = line.strip()
            if line.startswith(MARK):
                try:
                    return json.loads(line[len(MARK):]).get("calls", [])
                except ValueError:
                    return []
    return []


def answered(contents):
    last = contents[-1] if contents else {}
    return any(isinstance(p, dict) and "functionResponse" in p for p in last.get("parts") or ())


def answer(req):
    """The candidate's parts for this request, one list per streamed chunk."""
    contents = req.get("contents") or []
    calls = script_of(contents)
    if not calls or answered(contents):
        head, tail = FINAL_TEXT.split(": ", 1)
        return [[{"text": head + ": "}], [{"text": tail}]]
    parts = []
    for c in calls:
        call = {"name": c["name"], "args": c.get("args", {})}
        if c.get("id"):
            call["id"] = c["id"]
        parts.append({"functionCall": call})
    return [parts]


class Handler(BaseHandler):
    server_version = "spanprobe-gemini-test/1"

    def log(self, method, body, status):
        entry = {"method": method, "path": self.path, "status": status,
                 "headers": {k.lower(): v for k, v in self.headers.items()
                             if k.lower() in ("host", "user-agent", "content-type")},
                 "body": body}
        with _log_lock, open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def send(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.log("GET", None, 404)
        self.send(404, {"error": {"code": 404, "message": "no such route", "status": "NOT_FOUND"}})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            req = {"unparsed": raw[:2000].decode(errors="replace")}
        path = urlsplit(self.path).path
        model, _, verb = path.rpartition("/")[2].partition(":")
        if verb == "countTokens":
            self.log("POST", req, 200)
            self.send(200, {"totalTokens": USAGE["promptTokenCount"]})
            return
        if verb not in ("generateContent", "streamGenerateContent"):
            self.log("POST", req, 404)
            self.send(404, {"error": {"code": 404, "message": "no such route",
                                      "status": "NOT_FOUND"}})
            return
        self.log("POST", req, 200)
        pieces = answer(req)
        if verb == "generateContent":
            pieces = [[p for piece in pieces for p in piece]]
        chunks = [{"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
                   "usageMetadata": USAGE, "modelVersion": model} for parts in pieces]
        chunks[-1]["candidates"][0]["finishReason"] = "STOP"
        if verb == "generateContent":
            self.send(200, chunks[0])
            return
        # As the real API streams: one data line per chunk, CRLF-separated
        # events, usage on each, the finish reason on the last.
        self.send(200, b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n"
                                for c in chunks), "text/event-stream")


def main():
    run(Handler, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
