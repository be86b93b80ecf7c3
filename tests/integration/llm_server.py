#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A fake LLM API server for the spanprobe LLM integration tests.

Like servers.py: one process serves plain HTTP and HTTPS on ephemeral
127.0.0.1 ports, prints {"pid": ..., "http_port": ..., "https_port": ...} on
stdout once listening, and exits when its stdin reaches EOF. HTTP/1.1,
keep-alive. Streams are sent with Transfer-Encoding: chunked, one chunk per
event, headers first.

The bodies follow each provider's published API reference (shapes, field
names, event order); the values are the constants below, which the tests
import so that the server and the assertions share one source of truth.

Routes (POST):
  /v1/chat/completions, /openai/deployments/{d}/chat/completions   OpenAI chat
      ("stream": true -> SSE chunks, a final usage chunk when
      stream_options.include_usage, then "data: [DONE]"; "tools" in the
      request -> an assistant message with two tool_calls, streamed as
      tool_calls deltas with the arguments in fragments when "stream")
  /v1/completions, /v1/embeddings, /v1/responses                   OpenAI
      (/v1/responses with "stream": true -> the Responses API's events)
  /v1/messages                                                     Anthropic
      ("stream": true -> message_start, content_block_*, message_delta,
      message_stop; "tools" -> a text block then a tool_use block)
  /v1beta/models/{m}:generateContent, :streamGenerateContent (?alt=sse),
      :embedContent                                                Gemini
  /api/chat, /api/generate, /api/embed                             Ollama
      ("stream" absent or true -> NDJSON records, the last one done:true)
  /v1/not-llm        a chat-completion-shaped answer on a path no LLM API uses
GET /v1/models, /api/tags: model listings (not LLM calls); other GETs: 405.
Magic request models: "rate-limited" (OpenAI 429 with Retry-After: 30),
"overloaded" (Anthropic 529). Request headers:
  x-test-first-chunk-ms: N   streams: sleep N ms after the headers, before the
                             first chunk
  x-test-gzip: 1             gzip the (non-stream) body even if not asked;
                             otherwise it is gzipped when Accept-Encoding has gzip
  x-test-response-model: M   answer with model M (default: the request's)
  x-test-answer-repeat: N    OpenAI chat: answer LONG_PIECE * N (multi-byte text)
  x-test-chunked: 1          send the (non-stream) body chunked, in 100-byte pieces
  x-test-sse-comments: 1     streams: two SSE comment lines right after the headers,
                             before the x-test-first-chunk-ms pause
  x-test-rechunk: 1          streams: written in 1 to 64-byte HTTP chunks, each its
                             own write, cutting events and UTF-8 characters
                             (OpenAI chat: the UTF8_DELTAS text)
"""
import gzip
import json
import os
import sys
import time
from urllib.parse import urlsplit

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import BaseHandler, run  # noqa: E402

# ---- what the server answers (imported by llm_cases.py) ----
CREATED = 1741569952

# OpenAI chat, non-stream
CHAT_ID = "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
CHAT_TEXT = "Hello! How can I assist you today?"
CHAT_USAGE = (19, 10)  # prompt_tokens, completion_tokens

# OpenAI chat, stream
STREAM_ID = "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
STREAM_DELTAS = ["Hello", " from", " the", " stream", "!"]
STREAM_USAGE = (23, 6)
# with x-test-rechunk: multi-byte deltas, and the stream written in pieces
# of RECHUNK_SIZES bytes (cycling) that cut events and characters anywhere
UTF8_DELTAS = ["Grüß", " dich", ", 🙂", " naïve café", "!"]
RECHUNK_SIZES = [1, 7, 13, 64, 3]

# OpenAI chat with tools
TOOLS_ID = "chatcmpl-B9MCCQ7kfTjNkJDfWKWjaCXVLb8E0"
TOOL_CALLS = [  # (id, name, arguments as the API sends them: a JSON string)
    ("call_Vt1kKJ3FbBzUQh4ymG3ALzK9", "get_current_weather",
     json.dumps({"location": "Boston, MA", "unit": "celsius"})),
    ("call_8ZsGsYhIsn7ULcoPK5bnwYqE", "get_local_time",
     json.dumps({"timezone": "America/New_York"})),
]
TOOLS_USAGE = (82, 51)

# OpenAI legacy completions, responses, embeddings
COMPLETION_ID = "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7"
COMPLETION_TEXT = "\n\nThis is indeed a test"
COMPLETION_USAGE = (5, 7)
RESPONSE_ID = "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"
RESPONSE_TEXT = "In a peaceful grove beneath a silver moon, a unicorn named Lumina slept."
RESPONSE_USAGE = (36, 17)
RESPONSE_STREAM_ID = "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654"
RESPONSE_STREAM_ITEM = "msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654"
RESPONSE_STREAM_DELTAS = ["Hi", " there", "!", " How can I", " assist you today?"]
RESPONSE_STREAM_USAGE = (37, 11)
EMBED_TOKENS = 5
EMBED_DIM = 8

# Anthropic
ANTHROPIC_ID = "msg_01XFDUDYJgAACzvnptvVoYEL"
ANTHROPIC_TEXT = "Hi! My name is Claude."
ANTHROPIC_USAGE = (12, 9)
ANTHROPIC_STREAM_ID = "msg_014p7gG3wDgGV9EUtLvnow3U"
ANTHROPIC_STREAM_TEXT = ["Okay", ",", " let me check", " the weather."]
ANTHROPIC_TOOL = ("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather",
                  ['{"location":', ' "San Fra', 'ncisco, CA"', ', "unit": "fahrenheit"}'])
ANTHROPIC_STREAM_USAGE = (472, 89)  # input (message_start), output (message_delta)
ANTHROPIC_START_OUTPUT = 2  # output_tokens in message_start, superseded by message_delta

# Gemini
GEMINI_TEXT = "I will look up the weather for you."
GEMINI_FUNCTION = ("find_weather", {"location": "Mountain View, CA"})
GEMINI_USAGE = (31, 14)
GEMINI_RESPONSE_ID = "r3FMaOf6LdKN1MkPt7b_sQw"
GEMINI_STREAM = ["The", " quick brown", " fox jumps."]
GEMINI_STREAM_USAGE = (10, 6)

# Ollama
OLLAMA_CHAT = ["The", " sky", " is", " blue", "."]
OLLAMA_CHAT_USAGE = (26, 5)  # prompt_eval_count, eval_count
OLLAMA_GENERATE_TEXT = "The sky is blue because of Rayleigh scattering."
OLLAMA_GENERATE_USAGE = (25, 11)
OLLAMA_EMBED_TOKENS = 8

# long answers (x-test-answer-repeat: N -> LONG_PIECE * N as the chat text)
LONG_PIECE = "Ünïcødé wörds, 🙂 and more. "

# the not-LLM route
NOT_LLM_TEXT = "This path is not an LLM API."

# errors
RATE_LIMIT_BODY = {"error": {"message": "Rate limit reached", "type": "rate_limit_error",
                             "param": None, "code": "rate_limit_exceeded"}}
RETRY_AFTER = "30"
OVERLOADED_BODY = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}

STREAM_GAP = 0.02  # seconds between stream chunks, so they are separate writes


def dumps(obj):
    """JSON as the APIs send it: compact, UTF-8, non-ASCII characters unescaped."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def fragments(text, n=4):
    """text cut into about n pieces, as streamed tool-call arguments are."""
    size = max(1, -(-len(text) // n))
    return [text[i:i + size] for i in range(0, len(text), size)]


def long_text(repeat):
    """A long answer with multi-byte characters (x-test-answer-repeat)."""
    return LONG_PIECE * repeat


def vector(n):
    return [round(0.001 * (i + 1) * (-1) ** i, 6) for i in range(n)]


def openai_usage(prompt, completion):
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}


class Handler(BaseHandler):
    def version_string(self):
        return "uvicorn"

    # ---- plumbing ----
    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def send_json(self, code, obj, headers=()):
        data = dumps(obj).encode()
        wants_gzip = (self.headers.get("x-test-gzip") == "1"
                      or "gzip" in self.headers.get("Accept-Encoding", "").lower())
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        if wants_gzip:
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
        if self.headers.get("x-test-chunked") == "1":
            # as servers that compress on the fly send it: chunked, in pieces
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 100):
                piece = data[i:i + 100]
                self.write_chunk(piece)
                self.wfile.flush()
                time.sleep(0.002)
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self, content_type, headers=()):
        """Headers now (so the client knows the answer has started), then the
        configured pause before the first chunk."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.headers.get("x-test-sse-comments") == "1":
            # what OpenRouter sends while the model has not answered yet
            for _ in range(2):
                comment = b": OPENROUTER PROCESSING\n\n"
                self.write_chunk(comment)
                self.wfile.flush()
                time.sleep(0.05)
        self.wfile.flush()
        self.first = True
        self.rechunk = self.headers.get("x-test-rechunk") == "1"
        self.piece = 0

    def chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        if self.first:
            self.first = False
            time.sleep(int(self.headers.get("x-test-first-chunk-ms", "0")) / 1000)
        else:
            time.sleep(STREAM_GAP)
        if not self.rechunk:
            self.write_chunk(data)
            self.wfile.flush()
            return
        while data:  # each piece its own HTTP chunk, its own write (TLS record)
            size = RECHUNK_SIZES[self.piece % len(RECHUNK_SIZES)]
            self.piece += 1
            piece, data = data[:size], data[size:]
            self.write_chunk(piece)
            self.wfile.flush()
            time.sleep(0.001)

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def sse(self, obj, event=None, eol="\n"):
        text = (f"event: {event}{eol}" if event else "") + f"data: {dumps(obj)}{eol}{eol}"
        self.chunk(text)

    # ---- routing ----
    def do_GET(self):
        """What SDKs GET besides calling models: listings."""
        path = urlsplit(self.path).path
        if path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [
                {"id": "gpt-4o-mini", "object": "model", "created": CREATED, "owned_by": "system"}]})
        elif path == "/api/tags":
            self.send_json(200, {"models": [{"name": "my-local-model:latest",
                                             "model": "my-local-model:latest", "size": 1234}]})
        else:
            self.send_json(405, {"error": {"message": f"GET {path} is not allowed",
                                           "type": "invalid_request_error"}})

    def do_POST(self):
        raw = self.read_body()
        url = urlsplit(self.path)
        path = url.path
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            self.send_json(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
            return
        self.req = req
        self.model = self.headers.get("x-test-response-model") or req.get("model")
        if path == "/v1/chat/completions" or (
                path.startswith("/openai/deployments/") and path.endswith("/chat/completions")):
            if not self.model:  # Azure: the deployment names the model
                self.model = self.headers.get("x-test-response-model") or "gpt-4o-mini"
            self.openai_chat()
        elif path == "/v1/completions":
            self.send_json(200, {
                "id": COMPLETION_ID, "object": "text_completion", "created": CREATED,
                "model": self.model, "system_fingerprint": "fp_44709d6fcb",
                "choices": [{"text": COMPLETION_TEXT, "index": 0, "logprobs": None,
                             "finish_reason": "length"}],
                "usage": {"prompt_tokens": COMPLETION_USAGE[0],
                          "completion_tokens": COMPLETION_USAGE[1],
                          "total_tokens": sum(COMPLETION_USAGE)}})
        elif path == "/v1/embeddings":
            inputs = req.get("input")
            inputs = inputs if isinstance(inputs, list) else [inputs]
            self.send_json(200, {
                "object": "list",
                "data": [{"object": "embedding", "index": i, "embedding": vector(EMBED_DIM)}
                         for i in range(len(inputs))],
                "model": self.model,
                "usage": {"prompt_tokens": EMBED_TOKENS, "total_tokens": EMBED_TOKENS}})
        elif path == "/v1/responses":
            self.openai_responses()
        elif path == "/v1/messages":
            self.anthropic()
        elif path.startswith("/v1beta/models/") and ":" in path:
            model, method = path[len("/v1beta/models/"):].split(":", 1)
            self.model = self.headers.get("x-test-response-model") or model
            self.gemini(method)
        elif path in ("/api/chat", "/api/generate", "/api/embed"):
            self.ollama(path)
        elif path == "/v1/not-llm":
            self.send_json(200, self.chat_completion(NOT_LLM_TEXT, CHAT_USAGE))
        else:
            self.send_json(404, {"error": {"message": f"Unknown path {path}",
                                           "type": "invalid_request_error"}})

    # ---- OpenAI ----
    def chat_completion(self, text, usage, chat_id=CHAT_ID, tool_calls=None):
        message = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
        if tool_calls:
            message["tool_calls"] = [{"id": i, "type": "function",
                                      "function": {"name": n, "arguments": a}}
                                     for i, n, a in tool_calls]
        return {"id": chat_id, "object": "chat.completion", "created": CREATED,
                "model": self.model,
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": "tool_calls" if tool_calls else "stop"}],
                "usage": openai_usage(*usage), "service_tier": "default",
                "system_fingerprint": "fp_06737a9306"}

    def openai_chat(self):
        extra = [("x-request-id", "req_6a6b6c6d6e6f70717273747576777879"),
                 ("openai-processing-ms", "331"), ("openai-version", "2020-10-01")]
        if self.model == "rate-limited":
            self.send_json(429, RATE_LIMIT_BODY, extra + [("Retry-After", RETRY_AFTER)])
            return
        if self.req.get("stream"):
            self.openai_chat_stream(extra)
        elif self.req.get("tools"):
            self.send_json(200, self.chat_completion(None, TOOLS_USAGE, TOOLS_ID, TOOL_CALLS), extra)
        else:
            repeat = int(self.headers.get("x-test-answer-repeat", "0"))
            text = long_text(repeat) if repeat else CHAT_TEXT
            self.send_json(200, self.chat_completion(text, CHAT_USAGE), extra)

    def openai_chat_stream(self, extra):
        include_usage = bool((self.req.get("stream_options") or {}).get("include_usage"))
        tools = bool(self.req.get("tools"))

        def chunk(delta, finish=None, choices=True):
            obj = {"id": STREAM_ID, "object": "chat.completion.chunk", "created": CREATED,
                   "model": self.model, "service_tier": "default",
                   "system_fingerprint": "fp_06737a9306",
                   "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                "finish_reason": finish}] if choices else []}
            if include_usage:
                obj["usage"] = None
            return obj

        self.start_stream("text/event-stream; charset=utf-8", extra)
        if tools:
            # each call: a delta with its index, id, name and empty arguments,
            # then the arguments string in fragments (index only)
            for i, (cid, name, args) in enumerate(TOOL_CALLS):
                first = {"index": i, "id": cid, "type": "function",
                         "function": {"name": name, "arguments": ""}}
                delta = {"tool_calls": [first]}
                if i == 0:
                    delta = {"role": "assistant", "content": None, **delta, "refusal": None}
                self.sse(chunk(delta))
                for frag in fragments(args):
                    self.sse(chunk({"tool_calls": [{"index": i, "function": {"arguments": frag}}]}))
            self.sse(chunk({}, finish="tool_calls"))
            usage = TOOLS_USAGE
        else:
            # The first event holds the role and the first piece of text, so
            # the first chunk carrying content is the first chunk, whatever
            # counts as "content" (an empty string or not).
            deltas = UTF8_DELTAS if self.rechunk else STREAM_DELTAS
            self.sse(chunk({"role": "assistant", "content": deltas[0], "refusal": None}))
            for piece in deltas[1:]:
                self.sse(chunk({"content": piece}))
            self.sse(chunk({}, finish="stop"))
            usage = STREAM_USAGE
        if include_usage:
            final = chunk({}, choices=False)
            final["usage"] = openai_usage(*usage)
            self.sse(final)
        self.chunk("data: [DONE]\n\n")
        self.end_stream()

    def openai_responses(self):
        if self.req.get("stream"):
            self.openai_responses_stream()
            return
        self.send_json(200, {
            "id": RESPONSE_ID, "object": "response", "created_at": CREATED, "status": "completed",
            "error": None, "incomplete_details": None, "instructions": None,
            "max_output_tokens": self.req.get("max_output_tokens"), "model": self.model,
            "output": [{"type": "message", "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e6",
                        "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": RESPONSE_TEXT,
                                     "annotations": []}]}],
            "parallel_tool_calls": True, "previous_response_id": None,
            "temperature": 1.0, "tool_choice": "auto", "tools": [], "top_p": 1.0,
            "truncation": "disabled",
            "usage": {"input_tokens": RESPONSE_USAGE[0],
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": RESPONSE_USAGE[1],
                      "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": sum(RESPONSE_USAGE)},
            "user": None, "metadata": {}})

    def openai_responses_stream(self):
        """The Responses API's semantic events; usage in response.completed."""
        seq = iter(range(1000))
        text = "".join(RESPONSE_STREAM_DELTAS)

        def response(status, output, usage):
            return {"id": RESPONSE_STREAM_ID, "object": "response", "created_at": CREATED,
                    "status": status, "error": None, "incomplete_details": None,
                    "instructions": self.req.get("instructions"), "max_output_tokens": None,
                    "model": self.model, "output": output, "parallel_tool_calls": True,
                    "previous_response_id": None, "reasoning": {"effort": None, "summary": None},
                    "store": True, "temperature": 1.0, "text": {"format": {"type": "text"}},
                    "tool_choice": "auto", "tools": [], "top_p": 1.0, "truncation": "disabled",
                    "usage": usage, "user": None, "metadata": {}}

        def event(kind, **fields):
            self.sse({"type": kind, "sequence_number": next(seq), **fields}, kind)

        part = {"type": "output_text", "text": text, "annotations": []}
        item = {"id": RESPONSE_STREAM_ITEM, "type": "message", "status": "completed",
                "role": "assistant", "content": [part]}
        where = {"item_id": RESPONSE_STREAM_ITEM, "output_index": 0, "content_index": 0}
        self.start_stream("text/event-stream; charset=utf-8")
        event("response.created", response=response("in_progress", [], None))
        event("response.in_progress", response=response("in_progress", [], None))
        event("response.output_item.added", output_index=0,
              item={**item, "status": "in_progress", "content": []})
        event("response.content_part.added", **where, part={**part, "text": ""})
        for piece in RESPONSE_STREAM_DELTAS:
            event("response.output_text.delta", **where, delta=piece)
        event("response.output_text.done", **where, text=text)
        event("response.content_part.done", **where, part=part)
        event("response.output_item.done", output_index=0, item=item)
        inp, outp = RESPONSE_STREAM_USAGE
        event("response.completed", response=response("completed", [item], {
            "input_tokens": inp, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": outp, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": inp + outp}))
        self.end_stream()

    # ---- Anthropic ----
    def anthropic(self):
        extra = [("request-id", "req_018EeWyXxfu5pfWkrYcMdjWG"),
                 ("anthropic-organization-id", "27796668-7351-40ac-acc4-024aee8995a5")]
        if self.model == "overloaded":
            self.send_json(529, OVERLOADED_BODY, extra)
            return
        if self.req.get("stream"):
            self.anthropic_stream(extra)
            return
        self.send_json(200, {
            "id": ANTHROPIC_ID, "type": "message", "role": "assistant", "model": self.model,
            "content": [{"type": "text", "text": ANTHROPIC_TEXT}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": ANTHROPIC_USAGE[0], "output_tokens": ANTHROPIC_USAGE[1],
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}, extra)

    def anthropic_stream(self, extra):
        tools = bool(self.req.get("tools"))
        self.start_stream("text/event-stream; charset=utf-8", extra)
        self.sse({"type": "message_start", "message": {
            "id": ANTHROPIC_STREAM_ID, "type": "message", "role": "assistant", "content": [],
            "model": self.model, "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": ANTHROPIC_STREAM_USAGE[0],
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                      "output_tokens": ANTHROPIC_START_OUTPUT}}}, "message_start")
        self.sse({"type": "content_block_start", "index": 0,
                  "content_block": {"type": "text", "text": ""}}, "content_block_start")
        self.sse({"type": "ping"}, "ping")
        for piece in ANTHROPIC_STREAM_TEXT:
            self.sse({"type": "content_block_delta", "index": 0,
                      "delta": {"type": "text_delta", "text": piece}}, "content_block_delta")
        self.sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        if tools:
            tid, name, parts = ANTHROPIC_TOOL
            self.sse({"type": "content_block_start", "index": 1,
                      "content_block": {"type": "tool_use", "id": tid, "name": name, "input": {}}},
                     "content_block_start")
            self.sse({"type": "content_block_delta", "index": 1,
                      "delta": {"type": "input_json_delta", "partial_json": ""}},
                     "content_block_delta")
            for part in parts:
                self.sse({"type": "content_block_delta", "index": 1,
                          "delta": {"type": "input_json_delta", "partial_json": part}},
                         "content_block_delta")
            self.sse({"type": "content_block_stop", "index": 1}, "content_block_stop")
        self.sse({"type": "message_delta",
                  "delta": {"stop_reason": "tool_use" if tools else "end_turn",
                            "stop_sequence": None},
                  "usage": {"output_tokens": ANTHROPIC_STREAM_USAGE[1]}}, "message_delta")
        self.sse({"type": "message_stop"}, "message_stop")
        self.end_stream()

    # ---- Gemini ----
    def gemini(self, method):
        usage = {"promptTokenCount": GEMINI_USAGE[0], "candidatesTokenCount": GEMINI_USAGE[1],
                 "totalTokenCount": sum(GEMINI_USAGE),
                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": GEMINI_USAGE[0]}]}
        if method == "generateContent":
            parts = [{"text": GEMINI_TEXT}]
            if self.req.get("tools"):
                parts.append({"functionCall": {"name": GEMINI_FUNCTION[0],
                                               "args": GEMINI_FUNCTION[1]}})
            self.send_json(200, {
                "candidates": [{"content": {"parts": parts, "role": "model"},
                                "finishReason": "STOP", "avgLogprobs": -0.0412, "index": 0}],
                "usageMetadata": usage, "modelVersion": self.model,
                "responseId": GEMINI_RESPONSE_ID})
        elif method == "streamGenerateContent":
            sse = "alt=sse" in urlsplit(self.path).query.split("&")
            self.start_stream("text/event-stream" if sse else "application/json; charset=UTF-8")
            records = []
            for i, piece in enumerate(GEMINI_STREAM):
                last = i == len(GEMINI_STREAM) - 1
                cand = {"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}
                meta = {"promptTokenCount": GEMINI_STREAM_USAGE[0],
                        "totalTokenCount": GEMINI_STREAM_USAGE[0]}
                if last:
                    cand["finishReason"] = "STOP"
                    meta = {"promptTokenCount": GEMINI_STREAM_USAGE[0],
                            "candidatesTokenCount": GEMINI_STREAM_USAGE[1],
                            "totalTokenCount": sum(GEMINI_STREAM_USAGE)}
                records.append({"candidates": [cand], "usageMetadata": meta,
                                "modelVersion": self.model, "responseId": GEMINI_RESPONSE_ID})
            if sse:
                for rec in records:
                    self.sse(rec, eol="\r\n")  # Google's SSE lines end in CRLF
            else:  # a JSON array, streamed element by element
                for i, rec in enumerate(records):
                    self.chunk(("[" if i == 0 else ",\r\n") + dumps(rec))
                self.chunk("]")
            self.end_stream()
        elif method == "embedContent":
            self.send_json(200, {"embedding": {"values": vector(EMBED_DIM)}})
        else:
            self.send_json(404, {"error": {"code": 404, "message": f"unknown method {method}",
                                           "status": "NOT_FOUND"}})

    # ---- Ollama ----
    def ollama(self, path):
        created = "2024-12-10T10:53:05.%09dZ"
        if path == "/api/embed":
            self.send_json(200, {"model": self.model, "embeddings": [vector(EMBED_DIM)],
                                 "total_duration": 14143917, "load_duration": 1019500,
                                 "prompt_eval_count": OLLAMA_EMBED_TOKENS})
            return
        chat = path == "/api/chat"
        pieces = OLLAMA_CHAT if chat else [OLLAMA_GENERATE_TEXT]
        usage = OLLAMA_CHAT_USAGE if chat else OLLAMA_GENERATE_USAGE
        done = {"model": self.model, "created_at": created % 999,
                "done": True, "done_reason": "stop", "total_duration": 4883583458,
                "load_duration": 1334875, "prompt_eval_count": usage[0],
                "prompt_eval_duration": 342546000, "eval_count": usage[1],
                "eval_duration": 4535599000}
        if chat:
            done["message"] = {"role": "assistant", "content": ""}
        else:
            done["response"] = ""
        if self.req.get("stream", True) is False:
            whole = dict(done)
            if chat:
                whole["message"] = {"role": "assistant", "content": "".join(pieces)}
            else:
                whole["response"] = "".join(pieces)
                whole["context"] = [1, 2, 3]
            self.send_json(200, whole)
            return
        self.start_stream("application/x-ndjson")
        for i, piece in enumerate(pieces):
            rec = {"model": self.model, "created_at": created % (i + 1)}
            if chat:
                rec["message"] = {"role": "assistant", "content": piece}
            else:
                rec["response"] = piece
            rec["done"] = False
            self.chunk(dumps(rec) + "\n")
        self.chunk(dumps(done) + "\n")
        self.end_stream()


def main():
    run(Handler, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
