// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// The benchmark's Bun client: N sequential keep-alive fetches of GET /bench
// from tls_server (its throwaway certificate: verification off, the cost of
// verifying is not what is measured), after a warm-up of min(N/20, 1000).
//   bun bun_client.mjs PORT N
// Prints "req/s=R us/request=U", as tls_client does.
const [port, n] = [process.argv[2], Number(process.argv[3])];
const url = `https://127.0.0.1:${port}/bench`;
const opts = { tls: { rejectUnauthorized: false }, keepalive: true };
const get = async () => { const r = await fetch(url, opts); await r.arrayBuffer(); };
for (let i = 0; i < Math.min(Math.floor(n / 20), 1000); i++) await get();
const t0 = performance.now();
for (let i = 0; i < n; i++) await get();
const ms = performance.now() - t0;
console.log(`req/s=${(n / ms * 1000).toFixed(1)} us/request=${(ms * 1000 / n).toFixed(2)}`);
