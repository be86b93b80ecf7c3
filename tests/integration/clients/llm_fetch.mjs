// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// An LLM API client the LLM integration tests run under /usr/bin/node: the
// built-in fetch (undici over node's statically linked OpenSSL), the way
// the OpenAI and Anthropic JavaScript SDKs call their APIs; the answer is
// read from the body stream chunk by chunk as it arrives.
//
// usage: node llm_fetch.mjs CONFIG.json   (CONFIG as for llm_client.py, and
// "parallel": true to send every request at once; run with
// NODE_TLS_REJECT_UNAUTHORIZED=0, the test cert being self-signed).
// Prints a JSON list of {status, content_type, chunks, text}.
import { readFileSync } from 'node:fs';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));

async function send(req) {
  const res = await fetch(req.url, {
    method: req.method || 'POST',
    headers: req.headers || {},
    body: req.body ?? undefined,
    signal: AbortSignal.timeout(30000),
  });
  const decoder = new TextDecoder();
  let text = '';
  let chunks = 0;
  for await (const chunk of res.body) {
    chunks++;
    text += decoder.decode(chunk, { stream: true });
  }
  text += decoder.decode();
  return { status: res.status, content_type: res.headers.get('content-type'), chunks, text };
}

let results = [];
if (cfg.parallel) {
  // all at once, each on its own connection, as an agent's parallel calls
  results = await Promise.all(cfg.requests.map(send));
} else {
  for (const req of cfg.requests) results.push(await send(req));
}
console.log(JSON.stringify(results));
// undici keeps idle keep-alive sockets: exit now rather than wait for them
process.exit(0);
