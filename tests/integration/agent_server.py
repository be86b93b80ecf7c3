#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A scripted fake model for the spanprobe agent integration tests.

Like servers.py: one process, plain HTTP and HTTPS on ephemeral 127.0.0.1
ports, {"pid", "http_port", "https_port"} on stdout, exits at stdin EOF.

The test's agent says in its first user message which tool calls the model
should ask for, as JSON: {"calls": [{"id": ..., "name": ..., "arguments":
{...}}, ...]}. The server asks for exactly those; once the request's last
message is a tool result it answers with text and asks for nothing more.

Routes:
  POST /v1/chat/completions   OpenAI chat (tool_calls / role "tool" results)
  POST /v1/messages           Anthropic messages (tool_use / tool_result blocks)
  GET  /flaky?key=K           429 (Retry-After: 0) the first time per K, then 200
  GET  /delay?ms=N            200 after N ms
"""
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import BaseHandler, run  # noqa: E402

FINAL_TEXT = "All done."
USAGE = (40, 12)

_flaky_seen = set()
_flaky_lock = threading.Lock()


def script_of(messages):
    """The calls the first user message asks the model to make."""
    for m in messages:
        if m.get("role") != "user":
            continue
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(b.get("text", "") for b in content if isinstance(b, dict))
        try:
            return json.loads(content).get("calls", [])
        except (TypeError, ValueError, AttributeError):
            return []
    return []


def anthropic_is_result(message):
    content = message.get("content")
    return (message.get("role") == "user" and isinstance(content, list) and content
            and all(isinstance(b, dict) and b.get("type") == "tool_result" for b in content))


class Handler(BaseHandler):
    server_version = "spanprobe-agent-test/1"

    def send(self, code, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        if url.path == "/flaky":
            key = q.get("key", [""])[0]
            with _flaky_lock:
                first = key not in _flaky_seen
                _flaky_seen.add(key)
            if first:
                self.send(429, {"error": "slow down"}, [("Retry-After", "0")])
            else:
                self.send(200, {"ok": True})
        elif url.path == "/delay":
            time.sleep(int(q.get("ms", ["0"])[0]) / 1000)
            self.send(200, {"ok": True})
        else:
            self.send(404, {"error": "no such route"})

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        path = urlsplit(self.path).path
        messages = req.get("messages", [])
        calls = script_of(messages)
        model = req.get("model", "gpt-4o-mini")
        if path == "/v1/chat/completions":
            done = not calls or (messages and messages[-1].get("role") == "tool")
            msg = {"role": "assistant"}
            if done:
                msg["content"] = FINAL_TEXT
            else:
                msg["content"] = None
                msg["tool_calls"] = [{"id": c["id"], "type": "function", "function": {
                    "name": c["name"], "arguments": json.dumps(c["arguments"])}} for c in calls]
            self.send(200, {
                "id": "chatcmpl-agent", "object": "chat.completion", "created": 1741569952,
                "model": model, "choices": [{"index": 0, "message": msg,
                                             "finish_reason": "stop" if done else "tool_calls"}],
                "usage": {"prompt_tokens": USAGE[0], "completion_tokens": USAGE[1],
                          "total_tokens": sum(USAGE)}})
        elif path == "/v1/messages":
            done = not calls or (messages and anthropic_is_result(messages[-1]))
            if done:
                content = [{"type": "text", "text": FINAL_TEXT}]
            else:
                content = [{"type": "text", "text": "On it."}] + [
                    {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
                    for c in calls]
            self.send(200, {
                "id": "msg_agent", "type": "message", "role": "assistant", "model": model,
                "content": content, "stop_reason": "end_turn" if done else "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": USAGE[0], "output_tokens": USAGE[1]}})
        else:
            self.send(404, {"error": "no such route"})


def main():
    run(Handler, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
