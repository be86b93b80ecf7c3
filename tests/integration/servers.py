#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Plain HTTP and HTTPS test servers for the spanprobe integration tests.

One process serves both, on ephemeral 127.0.0.1 ports, so a test knows the
single pid whose SERVER spans it expects. Once listening it prints one JSON
line to stdout: {"pid": ..., "http_port": ..., "https_port": ...}.

It exits when its stdin reaches EOF, so it never outlives the test runner,
even if the runner is killed before its cleanup runs.

Routes (every response is HTTP/1.1, keep-alive):
  GET  /delay?ms=N          sleep N ms, then 200 with a Content-Length body
  GET  /status/N, /code/N   status N with a body naming N (?ms=N sleeps first)
  GET  /chunked?n=K&gap=MS  200, chunked: K chunks, MS ms apart
  POST /echo                200 echoing the request body
"""
import argparse
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# Statuses whose responses must not carry a body (RFC 9110); we answer them
# with an empty body so keep-alive framing stays right.
NO_BODY = {204, 304} | set(range(100, 200))


def query_int(query, name, default):
    """An integer query parameter, or default when absent."""
    values = parse_qs(query).get(name)
    return int(values[0]) if values else default


class BaseHandler(BaseHTTPRequestHandler):
    """What every test server's handler shares (llm_server.py's too)."""
    protocol_version = "HTTP/1.1"  # keep-alive, so probes see reused connections
    timeout = 30  # a stuck client must not pin a handler thread forever

    def setup(self):
        super().setup()
        # The TLS handshake runs here, in the handler thread, rather than in
        # accept(): one slow client must not stall every other connection.
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def log_message(self, fmt, *args):
        pass  # quiet: the runner only reads our first stdout line

    def write_chunk(self, data):
        """One HTTP/1.1 chunk (not the last, empty one)."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


class Handler(BaseHandler):
    server_version = "spanprobe-test/1"

    def reply(self, code, body):
        data = b"" if code in NO_BODY else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def reply_chunked(self, chunks, gap_ms):
        # Gaps between chunks make the response's last byte measurably later
        # than its first, which is what a span end must reflect.
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(chunks):
            if i:
                time.sleep(gap_ms / 1000)
            self.write_chunk(f"chunk {i}\n".encode())
        self.wfile.write(b"0\r\n\r\n")

    def do_GET(self):
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if url.path == "/delay":
            ms = query_int(url.query, "ms", 0)
            time.sleep(ms / 1000)
            self.reply(200, f"delayed {ms} ms\n")
        elif len(parts) == 2 and parts[0] in ("status", "code") and parts[1].isdigit():
            time.sleep(query_int(url.query, "ms", 0) / 1000)
            code = int(parts[1])
            self.reply(code, f"status {code}\n")
        elif url.path == "/chunked":
            self.reply_chunked(query_int(url.query, "n", 3), query_int(url.query, "gap", 0))
        else:
            self.reply(404, "no such route\n")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if urlsplit(self.path).path == "/echo":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.reply(404, "no such route\n")


class TLSServer(ThreadingHTTPServer):
    """Wraps each accepted socket lazily; the handshake happens in Handler.setup."""

    def __init__(self, addr, handler, context):
        self.context = context
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), addr


def serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server.server_address[1]


def run(handler, description):
    """Serves handler on plain HTTP and HTTPS (127.0.0.1, ephemeral ports),
    prints {"pid", "http_port", "https_port"} and exits when stdin closes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)

    plain = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    tls = TLSServer(("127.0.0.1", 0), handler, context)
    info = {"pid": os.getpid(), "http_port": serve(plain), "https_port": serve(tls)}
    print(json.dumps(info), flush=True)

    sys.stdin.read()  # blocks until the runner closes our stdin (or dies)
    os._exit(0)  # handler threads may be mid-request; don't wait for them


def main():
    run(Handler, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
