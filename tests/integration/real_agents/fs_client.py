#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""An MCP host for the real MCP filesystem server from npm, stdlib only:
spawns `node .../server-filesystem/dist/index.js DIR` over pipes (as
mcp/stdio_client.py does its own server) and runs a session: initialize,
notifications/initialized, tools/list, tools/call list_directory and
read_text_file in DIR, read_text_file outside DIR (the server answers
isError), an unknown tool. Prints one JSON object: the pids, and per
request its method, id, tool, and the answer.

  fs_client.py SERVER_JS DIR
"""
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "mcp"))
from stdio_client import Session  # noqa: E402

NODE = "/usr/bin/node"


class NodeSession(Session):
    def __init__(self, argv):  # noqa: super().__init__ would spawn a python server
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.next_id = 0
        self.server_requests = []


def main():
    server_js, folder = sys.argv[1], sys.argv[2]
    s = NodeSession([NODE, server_js, folder])
    seen = []

    def call(method, params, tool=None):
        ans = s.request(method, params)
        seen.append({"method": method, "id": ans.get("id"), "tool": tool,
                     "result": ans.get("result"), "error": ans.get("error")})

    # No roots capability: the server keeps the directory it was started with.
    call("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "spanprobe-test-client", "version": "1.0"}})
    s.notify("notifications/initialized")
    call("tools/list", {})
    call("tools/call", {"name": "list_directory", "arguments": {"path": folder}},
         "list_directory")
    call("tools/call", {"name": "read_text_file",
                        "arguments": {"path": os.path.join(folder, "alpha.txt")}},
         "read_text_file")
    call("tools/call", {"name": "read_text_file", "arguments": {"path": "/etc/hostname"}},
         "read_text_file")
    call("tools/call", {"name": "no_such_tool", "arguments": {}}, "no_such_tool")
    server_pid = s.proc.pid
    rc = s.close()
    print(json.dumps({"client_pid": os.getpid(), "server_pid": server_pid, "server_exit": rc,
                      "server_requests": s.server_requests, "calls": seen}))


if __name__ == "__main__":
    main()
