// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// HTTP(S) client the integration tests run under /usr/bin/node. Node links
// OpenSSL statically, so spanprobe must probe the node binary itself.
//
// usage: node client.js CONFIG.json   (same CONFIG as client.py; one
// connection per request). Prints a JSON list of {status, body_len}.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');

function send(req) {
  return new Promise((resolve, reject) => {
    const url = new URL(req.url);
    const mod = url.protocol === 'https:' ? https : http;
    const headers = Object.assign({}, req.headers);
    // Content-Length rather than node's default chunked upload: the test
    // server only reads Content-Length bodies.
    if (req.body != null) headers['Content-Length'] = Buffer.byteLength(req.body);
    const options = {
      method: req.method || 'GET',
      headers,
      rejectUnauthorized: false, // the server's cert is a throwaway self-signed one
      agent: false,
    };
    const r = mod.request(url, options, (res) => {
      let len = 0;
      res.on('data', (chunk) => { len += chunk.length; });
      res.on('end', () => resolve({ status: res.statusCode, body_len: len }));
    });
    r.on('error', reject);
    r.setTimeout(30000, () => r.destroy(new Error('timeout')));
    if (req.body != null) r.write(req.body);
    r.end();
  });
}

async function main() {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const results = [];
  for (const req of cfg.requests) results.push(await send(req));
  console.log(JSON.stringify(results));
}

main().catch((err) => { console.error(err); process.exit(1); });
