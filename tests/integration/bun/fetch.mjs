// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// The Bun client of bun_cases.py: fetch over HTTPS (HTTP/1.1, keep-alive)
// to the test server, trusting the test's CA through NODE_EXTRA_CA_CERTS.
//
// usage: bun fetch.mjs CONFIG.json [wait]
// CONFIG: {"requests": [{method, url, headers, body}]}. With "wait", prints
// "waiting" and reads one line from stdin first (a process that runs
// before spanprobe starts). Prints a JSON list of {status, text}.
import { readFileSync } from "node:fs";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
if (process.argv[3] === "wait") {
  console.log("waiting");
  for await (const _ of console) break;  // one line on stdin
}
const out = [];
for (const r of cfg.requests) {
  const res = await fetch(r.url, { method: r.method, headers: r.headers, body: r.body });
  let text = "";
  // read streams as they come, as an SSE consumer does
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
  }
  out.push({ status: res.status, text });
}
console.log(JSON.stringify(out));
