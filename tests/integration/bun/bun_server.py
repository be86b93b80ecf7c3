#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The fake LLM API of llm_server.py (its routes, its answers), logging what
it was sent: one JSON line per request to --log (method, path, headers,
body), so that bun_cases.py checks spans against the plaintext the server
saw rather than against what the test meant to send. Also answers what
Claude Code asks besides /v1/messages (GET / HEAD of anything else: 404,
logged), answers /v1/messages with text only (no tool call, whatever tools
the request lists), and GET /sse: a plain SSE stream of SSE_EVENTS.

Prints {"pid", "http_port", "https_port"} once listening (servers.run);
exits when stdin closes.
"""
import json
import os
import sys
import threading
import time
from urllib.parse import urlsplit

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import llm_server  # noqa: E402
from servers import run  # noqa: E402

LOG = os.environ.get("BUN_SERVER_LOG", os.devnull)
SSE_EVENTS = [f"tick {i}" for i in range(5)]
_lock = threading.Lock()


class Handler(llm_server.Handler):
    def read_body(self):
        self.logged_body = super().read_body()
        return self.logged_body

    def log_request_seen(self, status):
        rec = {"method": self.command, "path": self.path, "status": status,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": getattr(self, "logged_body", b"").decode(errors="replace")}
        with _lock, open(LOG, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def send_response(self, code, message=None):
        self.sent_status = code
        super().send_response(code, message)

    def do_GET(self):
        self.logged_body = b""
        path = urlsplit(self.path).path
        if path == "/sse":
            self.start_stream("text/event-stream")
            for ev in SSE_EVENTS:
                self.chunk(f"data: {ev}\n\n")
            self.end_stream()
        elif path == "/v1/models":
            super().do_GET()
        else:
            self.send_json(404, {"type": "error", "error": {"type": "not_found_error",
                                                            "message": f"no {path}"}})
        self.log_request_seen(self.sent_status)

    def do_HEAD(self):
        self.logged_body = b""
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.log_request_seen(200)

    def anthropic_stream(self, extra):
        # Claude Code sends its tool list with every turn: answer text and
        # end_turn (llm_server answers a tools request with a tool call,
        # which an agent would then run)
        self.req = dict(self.req, tools=None)
        super().anthropic_stream(extra)

    def do_POST(self):
        super().do_POST()
        self.log_request_seen(getattr(self, "sent_status", 0))


if __name__ == "__main__":
    time.sleep(0)
    run(Handler, "fake LLM API that logs what it was sent (bun_cases.py)")
