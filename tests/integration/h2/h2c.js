// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// HTTP/2 with prior knowledge (h2c), node's http2 client and server in one
// process, on 127.0.0.1 only: two calls answered 200, one the server
// resets (INTERNAL_ERROR), one streamed in three DATA frames.
// With argv CERT KEY: the same over TLS (ALPN h2; node's own OpenSSL).
const fs = require('fs');
const http2 = require('http2');
const tls = process.argv.length > 3;
const srv = tls ? http2.createSecureServer({ cert: fs.readFileSync(process.argv[2]),
                                             key: fs.readFileSync(process.argv[3]) })
                : http2.createServer();
srv.on('stream', (s, h) => {
  s.on('error', () => {});
  if (h[':path'] === '/reset') {
    s.respond({ ':status': 200 });
    s.write('part');
    setTimeout(() => s.destroy(new Error('reset mid-stream')), 20);
    return;
  }
  s.respond({ ':status': 200, 'content-type': 'text/plain' });
  if (h[':path'] === '/stream') {
    let n = 0;
    const t = setInterval(() => {
      s.write('chunk' + n + '\n');
      if (++n === 3) { clearInterval(t); s.end(); }
    }, 30);
    return;
  }
  s.end('hello ' + h[':path']);
});
srv.listen(0, '127.0.0.1', () => {
  const port = srv.address().port;
  console.log(port);
  const c = http2.connect((tls ? 'https' : 'http') + '://127.0.0.1:' + port,
                          { rejectUnauthorized: false });
  const paths = ['/a', '/b?x=1', '/reset', '/stream'];
  let left = paths.length;
  const done = () => { if (--left === 0) { c.close(); srv.close(); } };
  for (const p of paths) {
    const r = c.request({ ':path': p, 'authorization': 'Bearer sk-h2-secret' });
    let ended = false;
    const once = () => { if (!ended) { ended = true; done(); } };
    r.on('data', () => {});
    r.on('end', once);
    r.on('error', once);
    r.on('close', once);
    r.end();
  }
});
