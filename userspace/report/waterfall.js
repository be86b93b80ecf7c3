// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The waterfall viewer of `spanprobe report --html`: vanilla JS, no network.
 *
 * The data (the <script id="sp-data"> element, written by the report engine):
 *   { "generated": "...Z", "files": [...],
 *     "traces": [ { "id", "name", "start", "end",             // unix ns, decimal strings
 *                   "spans", "errors", "llm_calls", "tool_calls",
 *                   "input_tokens", "output_tokens", "cost_usd",
 *                   "think_ns", "act_ns", "other_ns" } ],     // decimal strings
 *     "spans": [ { "trace", "id", "parent" ("" for a root), "orphan",
 *                  "name", "kind", "class" (agent llm tool http mcp process other),
 *                  "start", "end", "status" (UNSET OK ERROR), "status_message",
 *                  "attrs": {}, "events": [ { "name", "time", "attrs" } ], "resource": {} } ] }
 * Spans come sorted by trace, then start time; the page does not rely on it.
 *
 * Times are nanoseconds past the epoch, beyond 2^53: they are read as
 * BigInt and kept as Numbers relative to their trace's start (2^53 ns is
 * 104 days). The waterfall draws only the rows in view (virtual scrolling:
 * a pool of row elements moved over a spacer as tall as every row), so
 * 10,000 spans cost what 60 do; the overview above it is a canvas.
 *
 * When the first trace is drawn the page writes what it did on <body>:
 * data-rendered-spans (rows of the row model placed on the time axis, every
 * span of the trace when all is expanded), data-trace-spans (the trace's spans
 * in the data), data-overview-spans (bars drawn on the overview canvas),
 * data-dom-rows, data-render-ms, data-errors (script errors so far).
 * "#trace=ID" (a prefix is enough) picks a trace, "&span=ID" a span;
 * "&selftest=1" then scrolls through every row and drives the controls,
 * writing data-selftest-* (the integration test reads them back).
 */
'use strict';
(function () {
  const T_SCRIPT = performance.now();
  const CLASSES = ['agent', 'llm', 'tool', 'http', 'mcp', 'process', 'other'];
  const CLASS_LABEL = { agent: 'Agent', llm: 'LLM', tool: 'Tool', http: 'HTTP', mcp: 'MCP',
                        process: 'Process', other: 'Other' };
  const ROW_H = 22;
  const PAD_L = 8, PAD_R = 16;  // the lanes' margins (waterfall.css .lane, .axis-ticks)
  const OVERSCAN = 10;
  const MAX_EVENT_MARKS = 24;
  const body = document.body;
  const errors = [];

  function noteError(msg) {
    errors.push(String(msg));
    body.dataset.errors = String(errors.length);
    body.dataset.errorText = errors[0];
  }
  window.addEventListener('error', (e) => noteError(e.message || 'error'));
  window.addEventListener('unhandledrejection', (e) => noteError(e.reason || 'rejection'));
  body.dataset.errors = '0';

  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // ---- numbers and times ----
  function big(v) {
    try {
      if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
      if (typeof v === 'number' && isFinite(v)) return BigInt(Math.round(v));
    } catch (e) { /* not a time */ }
    return null;
  }
  function num(v) {
    const n = typeof v === 'string' ? Number(v) : v;
    return typeof n === 'number' && isFinite(n) ? n : 0;
  }
  function fmtDur(ns) {
    if (!isFinite(ns)) return '?';
    const a = Math.abs(ns);
    if (a < 1e3) return Math.round(ns) + ' ns';
    if (a < 1e6) return trim(ns / 1e3, a < 1e4 ? 2 : a < 1e5 ? 1 : 0) + ' µs';
    if (a < 1e9) return trim(ns / 1e6, a < 1e7 ? 2 : a < 1e8 ? 1 : 0) + ' ms';
    if (a < 60e9) return trim(ns / 1e9, a < 1e10 ? 2 : 1) + ' s';
    const m = Math.floor(a / 60e9), s = Math.round((a - m * 60e9) / 1e9);
    if (m < 60) return (ns < 0 ? '-' : '') + m + 'm ' + String(s).padStart(2, '0') + 's';
    return (ns < 0 ? '-' : '') + Math.floor(m / 60) + 'h ' + String(m % 60).padStart(2, '0') + 'm';
  }
  function trim(x, digits) {
    const t = x.toFixed(digits);
    return digits ? t.replace(/\.?0+$/, '') : t;
  }
  function fmtInt(n) {
    return Math.round(num(n)).toLocaleString('en-US');
  }
  function fmtCost(c) {
    c = num(c);
    if (!c) return '$0';
    return '$' + (c < 0.01 ? c.toFixed(4) : c < 10 ? c.toFixed(3) : c.toFixed(2));
  }
  function pct(part, whole) {
    if (!(whole > 0)) return '–';
    const p = part / whole * 100;
    return p > 0 && p < 1 ? '<1%' : Math.round(p) + '%';
  }
  // unix ns (BigInt) -> "2026-12-02 08:00:00.123456789 UTC"
  function fmtAbs(b) {
    if (b === null) return '?';
    const ms = b / 1000000n, frac = String(((b % 1000000000n) + 1000000000n) % 1000000000n).padStart(9, '0');
    const d = new Date(Number(ms));
    if (isNaN(d.getTime())) return String(b);
    return d.toISOString().slice(0, 19).replace('T', ' ') + '.' + frac + ' UTC';
  }
  // axis steps of 1, 2, 5 x 10^n ns, at least 70 px apart
  function niceStep(range, px) {
    const want = range / Math.max(1, px / 70);
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(want, 1))));
    for (const m of [1, 2, 5, 10]) if (m * p >= want) return m * p;
    return 10 * p;
  }
  function fmtTick(ns, step) {
    if (ns === 0) return '0';
    if (step < 1e3) return trim(ns, 0) + ' ns';
    if (step < 1e6) return trim(ns / 1e3, step < 1e4 ? 1 : 0) + ' µs';
    if (step < 1e9) return trim(ns / 1e6, step < 1e7 ? 1 : 0) + ' ms';
    if (step < 60e9) return trim(ns / 1e9, step < 1e10 ? 1 : 0) + ' s';
    return fmtDur(ns);
  }

  // ---- the data ----
  let data = {};
  try {
    const text = $('sp-data').textContent.trim();
    data = text ? JSON.parse(text) : {};
    if (!data || typeof data !== 'object') throw new Error('not a JSON object');
  } catch (e) {
    fatal('The report data embedded in this page cannot be read: ' + e.message);
    data = {};
  }
  const spansIn = Array.isArray(data.spans) ? data.spans : [];
  const byTrace = new Map();
  for (const s of spansIn) {
    if (!s || typeof s !== 'object') continue;
    const t = String(s.trace || '');
    let list = byTrace.get(t);
    if (!list) byTrace.set(t, list = []);
    list.push(s);
  }
  // a summary for each trace, one made up from its spans where the data has none
  const traces = [];
  const seen = new Set();
  for (const t of Array.isArray(data.traces) ? data.traces : []) {
    if (!t || typeof t !== 'object' || seen.has(String(t.id))) continue;
    seen.add(String(t.id));
    traces.push(t);
  }
  for (const [id, list] of byTrace) {
    if (seen.has(id)) continue;
    const root = list.find((s) => !s.parent) || list[0];
    traces.push({ id, name: root.name, spans: list.length,
                  errors: list.filter((s) => s.status === 'ERROR').length });
  }

  function fatal(msg) {
    const f = $('fatal');
    f.textContent = msg;
    f.hidden = false;
    body.dataset.dataError = msg;
  }

  // ---- one trace's model: nodes, tree, row order ----
  const models = new Map();
  function model(tr) {
    let m = models.get(tr);
    if (!m) models.set(tr, m = buildModel(tr));
    return m;
  }
  function buildModel(tr) {
    const spans = byTrace.get(String(tr.id)) || [];
    let base = big(tr.start);
    for (const s of spans) {
      const b = big(s.start);
      if (b !== null && (base === null || b < base)) base = b;
    }
    if (base === null) base = 0n;
    const rel = (v) => { const b = big(v); return b === null ? NaN : Number(b - base); };
    const nodes = new Array(spans.length);
    const byId = new Map();
    let end = Number((big(tr.end) ?? base) - base);
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i];
      let st = rel(s.start), en = rel(s.end);
      if (!isFinite(st)) st = isFinite(en) ? en : 0;
      if (!isFinite(en) || en < st) en = st;
      if (en > end) end = en;
      const n = {
        i, s, id: String(s.id || ''), st, en, depth: 0, kids: [], parent: null,
        orphan: !!s.orphan, open: true, err: s.status === 'ERROR',
        cls: CLASSES.includes(s.class) ? s.class : 'other',
        name: String(s.name || '(unnamed)'), lc: '', hit: false, keep: true, sub: 0, errs: 0,
      };
      n.lc = n.name.toLowerCase();
      nodes[i] = n;
      if (n.id && !byId.has(n.id)) byId.set(n.id, n);
    }
    const roots = [];
    for (const n of nodes) {
      const p = n.s.parent ? byId.get(String(n.s.parent)) : null;
      if (p && p !== n && !n.orphan) {
        n.parent = p;
        p.kids.push(n);
      } else {
        if (n.s.parent) n.orphan = true;  // its parent is not in the data
        roots.push(n);
      }
    }
    const byStart = (a, b) => a.st - b.st || a.i - b.i;
    // preorder over the tree; spans in a parent cycle are reached from no
    // root: each becomes an orphan at the top level, never dropped
    const order = [];
    const done = new Uint8Array(nodes.length);
    const walk = (top) => {
      const stack = [top];
      while (stack.length) {
        const n = stack.pop();
        if (done[n.i]) continue;
        done[n.i] = 1;
        n.depth = n.parent && n.parent !== n && done[n.parent.i] ? n.parent.depth + 1 : 0;
        order.push(n);
        n.kids.sort(byStart);
        for (let k = n.kids.length - 1; k >= 0; k--) stack.push(n.kids[k]);
      }
    };
    roots.sort(byStart);
    for (const r of roots) walk(r);
    for (const n of nodes) {
      if (done[n.i]) continue;
      if (n.parent) n.parent.kids.splice(n.parent.kids.indexOf(n), 1);
      n.parent = null;
      n.orphan = true;
      roots.push(n);
      walk(n);
    }
    for (let k = order.length - 1; k >= 0; k--) {
      const n = order[k];
      if (n.parent) {
        n.parent.sub += n.sub + 1;
        n.parent.errs += n.errs + (n.err ? 1 : 0);
      }
    }
    return { tr, nodes, roots, order, base, end: Math.max(end, 1), rows: [], v0: 0,
             v1: Math.max(end, 1), sel: -1, q: '', hits: 0 };
  }

  // the rows shown: the tree in preorder through open nodes; with a search,
  // the spans whose name matches and their ancestors (opened)
  function flatten(m) {
    const q = m.q;
    m.hits = 0;
    if (q) {
      for (const n of m.nodes) { n.hit = n.lc.includes(q); n.keep = n.hit; if (n.hit) m.hits++; }
      for (let k = m.order.length - 1; k >= 0; k--) {
        const n = m.order[k];
        if (n.keep && n.parent) n.parent.keep = true;
      }
    } else {
      for (const n of m.nodes) { n.hit = false; n.keep = true; }
    }
    const rows = [];
    const stack = [];
    for (let k = m.roots.length - 1; k >= 0; k--) stack.push(m.roots[k]);
    while (stack.length) {
      const n = stack.pop();
      if (!n.keep) continue;
      rows.push(n);
      if (n.open || q) for (let k = n.kids.length - 1; k >= 0; k--) stack.push(n.kids[k]);
    }
    const selNode = m.rows[m.sel];
    m.rows = rows;
    m.sel = selNode ? rows.indexOf(selNode) : -1;
  }

  // ---- the page's parts ----
  const scroller = $('waterfall'), spacer = $('spacer'), rowsEl = $('rows'), gridEl = $('grid');
  const ticksEl = $('ticks'), overview = $('overview'), brush = $('brush');
  const details = $('details'), search = $('search');
  let cur = null;           // the model drawn
  let overviewDrawn = 0;    // bars on the overview canvas
  let namesW = 340;
  const pool = [];

  function laneWidth() {
    return Math.max(50, scroller.clientWidth - namesW - PAD_L - PAD_R);
  }

  function buildLegend() {
    const lg = $('legend');
    for (const c of CLASSES) {
      const s = el('span', 'c-' + c);
      s.append(el('i'), CLASS_LABEL[c]);
      lg.append(s);
    }
    const e = el('span', 'lg-err');
    e.append(el('i'), 'Error');
    lg.append(e);
  }

  function buildTraceList() {
    const list = $('trace-list');
    $('trace-count').textContent = traces.length ? String(traces.length) : '';
    list.textContent = '';
    traces.forEach((t, k) => {
      const li = el('li', 'trace-item');
      li.dataset.k = String(k);
      if (num(t.errors) > 0) li.classList.add('has-err');
      li.append(el('div', 'ti-name', t.name || t.id));
      li.title = String(t.name || '') + '\n' + String(t.id || '');
      const sub = el('div', 'ti-sub');
      sub.append(el('span', 'mono', String(t.id || '').slice(0, 8)));
      const st = big(t.start);
      if (st !== null) sub.append(el('span', null, fmtAbs(st).slice(11, 19)));
      const wall = wallNs(t);
      if (wall !== null) sub.append(el('span', null, fmtDur(wall)));
      li.append(sub);
      const stats = el('div', 'ti-stats');
      const stat = (v, label, bad) => {
        const s = el('span', bad ? 'bad' : null);
        s.append(el('b', null, v), ' ' + label);
        stats.append(s);
      };
      stat(fmtInt(t.spans), 'spans');
      if (t.llm_calls !== undefined) stat(fmtInt(t.llm_calls), 'LLM');
      if (t.tool_calls !== undefined) stat(fmtInt(t.tool_calls), 'tools');
      if (num(t.cost_usd)) stat(fmtCost(t.cost_usd), '');
      if (num(t.errors)) stat(fmtInt(t.errors), num(t.errors) === 1 ? 'error' : 'errors', true);
      li.append(stats);
      const split = splitBar(t);
      if (split) li.append(split);
      li.addEventListener('click', () => choose(k));
      list.append(li);
    });
  }

  function wallNs(t) {
    const a = big(t.start), b = big(t.end);
    return a !== null && b !== null ? Number(b - a) : null;
  }

  function splitParts(t) {
    const th = num(t.think_ns), ac = num(t.act_ns), ot = num(t.other_ns);
    const sum = th + ac + ot;
    return sum > 0 ? { th, ac, ot, sum } : null;
  }
  function splitBar(t) {
    const p = splitParts(t);
    if (!p) return null;
    const bar = el('div', 'split');
    bar.title = 'think ' + fmtDur(p.th) + ' · act ' + fmtDur(p.ac) + ' · other ' + fmtDur(p.ot);
    for (const [cls, v] of [['think', p.th], ['act', p.ac], ['other', p.ot]]) {
      const s = el('span', cls);
      s.style.width = (v / p.sum * 100) + '%';
      bar.append(s);
    }
    return bar;
  }

  function buildTraceHead(m) {
    const t = m.tr, head = $('trace-head');
    head.textContent = '';
    const title = el('div', 'th-title');
    title.append(el('h2', null, t.name || t.id), el('span', 'mono', t.id));
    const st = big(t.start) ?? m.base;
    title.append(el('span', 'mono', fmtAbs(st)));
    head.append(title);
    const tiles = el('div', 'tiles');
    const tile = (k, v, small, bad) => {
      const d = el('div', 'tile' + (bad ? ' bad' : ''));
      const vv = el('span', 'v', v);
      if (small) vv.append(' ', el('small', null, small));
      d.append(el('span', 'k', k), vv);
      tiles.append(d);
    };
    const wall = wallNs(t);
    tile('Wall time', fmtDur(wall ?? m.end));
    tile('Spans', fmtInt(t.spans ?? m.nodes.length));
    if (t.llm_calls !== undefined) tile('LLM calls', fmtInt(t.llm_calls));
    if (t.tool_calls !== undefined) tile('Tool calls', fmtInt(t.tool_calls));
    if (t.input_tokens !== undefined || t.output_tokens !== undefined)
      tile('Tokens', fmtInt(num(t.input_tokens) + num(t.output_tokens)),
           fmtInt(t.input_tokens) + ' in / ' + fmtInt(t.output_tokens) + ' out');
    if (t.cost_usd !== undefined) tile('Cost', fmtCost(t.cost_usd));
    tile('Errors', fmtInt(t.errors ?? m.nodes.filter((n) => n.err).length), null, num(t.errors) > 0);
    head.append(tiles);
    const p = splitParts(t);
    if (p) {
      const row = el('div', 'th-split');
      row.append(splitBar(t));
      const lg = el('div', 'split-legend');
      for (const [label, v, color] of [['Think (LLM)', p.th, 'var(--think)'], ['Act (tools)', p.ac, 'var(--act)'],
                                       ['Other', p.ot, 'var(--idle)']]) {
        const s = el('span');
        const i = el('i');
        i.style.background = color;
        s.append(i, label + ' ', el('b', null, fmtDur(v)), ' ' + pct(v, p.sum));
        lg.append(s);
      }
      row.append(lg);
      head.append(row);
    }
  }

  // ---- the waterfall rows (virtual) ----
  function makeRow() {
    const r = el('div', 'row');
    const name = el('div', 'name');
    const indent = el('span', 'indent');
    const caret = el('span', 'caret');
    const sw = el('span', 'swatch');
    const label = el('span', 'label');
    const kids = el('span', 'kids');
    const badges = el('span');
    badges.style.display = 'contents';
    name.append(indent, caret, sw, label, kids, badges);
    const lane = el('div', 'lane');
    const bar = el('div', 'bar');
    const dur = el('span', 'dur');
    const evs = el('span');
    lane.append(bar, evs, dur);
    r.append(name, lane);
    r.setAttribute('role', 'treeitem');
    const o = { r, indent, caret, sw, label, kids, badges, bar, dur, evs, node: null, idx: -1 };
    caret.addEventListener('mousedown', (e) => e.stopPropagation());
    caret.addEventListener('click', (e) => {
      e.stopPropagation();
      if (o.idx >= 0) { toggle(o.idx); select(o.idx, false); }
    });
    r.addEventListener('click', () => { if (!dragMoved && o.idx >= 0) select(o.idx, false); });
    rowsEl.append(r);
    return o;
  }

  function xOf(m, t, w) {
    return (t - m.v0) / (m.v1 - m.v0) * w;
  }

  function fillRow(o, m, idx, w) {
    const n = m.rows[idx];
    o.idx = idx;
    o.r.style.transform = 'translateY(' + (idx * ROW_H) + 'px)';
    o.r.classList.toggle('sel', idx === m.sel);
    o.r.classList.toggle('dim', !!m.q && !n.hit);
    if (o.node !== n || o.q !== m.q) {
      o.node = n;
      o.q = m.q;
      o.r.dataset.span = n.id;
      o.r.className = 'row c-' + n.cls + (idx === m.sel ? ' sel' : '') + (m.q && !n.hit ? ' dim' : '');
      o.indent.style.width = (8 + n.depth * 14) + 'px';
      o.label.textContent = '';
      if (m.q && n.hit) {
        const at = n.lc.indexOf(m.q);
        o.label.append(n.name.slice(0, at), el('mark', null, n.name.slice(at, at + m.q.length)),
                       n.name.slice(at + m.q.length));
      } else {
        o.label.textContent = n.name;
      }
      o.badges.textContent = '';
      if (n.err) {
        const b = el('span', 'badge err', '!');
        b.title = 'ERROR' + (n.s.status_message ? ': ' + n.s.status_message : '');
        o.badges.append(b);
      }
      if (n.orphan) {
        const b = el('span', 'badge orphan', 'orphan');
        b.title = 'parent span ' + (n.s.parent || '?') + ' is not in the data';
        o.badges.append(b);
      }
      o.bar.classList.toggle('err', n.err);
      o.dur.classList.toggle('err', n.err);
      o.r.title = n.name + ' — ' + fmtDur(n.en - n.st);
    }
    o.caret.className = 'caret' + (n.kids.length ? '' : ' leaf');
    o.caret.textContent = n.kids.length ? (n.open || m.q ? '▼' : '▶') : '';
    // a closed subtree says what it hides, and whether an error is in it
    const closed = n.kids.length && !(n.open || m.q);
    o.kids.textContent = closed ? '+' + n.sub.toLocaleString('en-US') + (n.errs ? ' · ' + n.errs + ' !' : '') : '';
    o.kids.className = 'kids' + (closed && n.errs ? ' err' : '');
    o.kids.title = closed ? n.sub + ' spans below' + (n.errs ? ', ' + n.errs + ' with ERROR' : '') : '';
    o.r.setAttribute('aria-expanded', n.kids.length ? String(n.open) : 'false');
    // geometry, clipped to the lane so a deep zoom makes no giant boxes
    let x0 = xOf(m, n.st, w), x1 = xOf(m, n.en, w);
    const visible = x1 >= -2 && x0 <= w + 2;
    o.bar.style.display = visible ? '' : 'none';
    o.dur.style.display = visible ? '' : 'none';
    o.evs.textContent = '';
    if (!visible) return;
    x0 = Math.max(-2, x0);
    x1 = Math.min(w + 2, x1);
    const bw = Math.max(1, x1 - x0);
    o.bar.style.left = x0 + 'px';
    o.bar.style.width = bw + 'px';
    const label = fmtDur(n.en - n.st);
    const lw = 7 * label.length + 8;
    o.dur.textContent = label;
    o.dur.classList.remove('in');
    if (x0 + bw + lw < w) {
      o.dur.style.left = (x0 + bw + 5) + 'px';
      o.dur.style.right = '';
    } else if (x0 > lw) {
      o.dur.style.left = '';
      o.dur.style.right = (w - x0 + 5) + 'px';
    } else {
      o.dur.style.left = (Math.max(0, x0) + 5) + 'px';
      o.dur.style.right = '';
      o.dur.classList.add('in');
    }
    const evs = Array.isArray(n.s.events) ? n.s.events : [];
    for (let k = 0; k < evs.length && k < MAX_EVENT_MARKS; k++) {
      const b = big(evs[k] && evs[k].time);
      if (b === null) continue;
      const x = xOf(m, Number(b - m.base), w);
      if (x < 0 || x > w) continue;
      const d = el('span', 'ev');
      d.style.left = x + 'px';
      o.evs.append(d);
    }
  }

  function render() {
    const m = cur;
    if (!m) return;
    const w = laneWidth();
    const n = m.rows.length;
    spacer.style.height = (n * ROW_H) + 'px';
    const top = scroller.scrollTop;
    const viewH = Math.max(ROW_H, scroller.clientHeight);
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(n, Math.ceil((top + viewH) / ROW_H) + OVERSCAN);
    while (pool.length < last - first) pool.push(makeRow());
    let k = 0;
    for (let i = first; i < last; i++, k++) {
      const o = pool[k];
      o.r.style.display = '';
      fillRow(o, m, i, w);
    }
    for (; k < pool.length; k++) {
      pool[k].r.style.display = 'none';
      pool[k].idx = -1;
    }
    body.dataset.domRows = String(last - first);
  }

  // axis labels, grid lines, the overview's window: whenever the view changes
  function renderAxis() {
    const m = cur;
    const w = laneWidth();
    const range = m.v1 - m.v0;
    const step = niceStep(range, w);
    ticksEl.textContent = '';
    gridEl.textContent = '';
    gridEl.style.left = (namesW + PAD_L) + 'px';
    for (let t = Math.ceil(m.v0 / step) * step; t <= m.v1; t += step) {
      const x = xOf(m, t, w);
      if (x > w - 30) break;
      const tick = el('div', 'tick');
      tick.style.left = x + 'px';
      tick.append(el('span', null, fmtTick(t, step)));
      ticksEl.append(tick);
      const g = el('div');
      g.style.left = x + 'px';
      gridEl.append(g);
    }
    $('zoom-reset').disabled = m.v0 === 0 && m.v1 === m.end;
    drawOverview();
  }

  function drawOverview() {
    const m = cur;
    const dpr = window.devicePixelRatio || 1;
    const cw = overview.clientWidth, ch = overview.clientHeight;
    overview.width = Math.round(cw * dpr);
    overview.height = Math.round(ch * dpr);
    const g = overview.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const css = getComputedStyle(body);
    const color = {};
    for (const c of CLASSES) color[c] = css.getPropertyValue('--c-' + c).trim() || '#888';
    const errColor = css.getPropertyValue('--err').trim() || '#d00';
    g.fillStyle = css.getPropertyValue('--line-2').trim() || '#eee';
    g.fillRect(0, 0, cw, ch);
    const n = m.order.length;
    const rowH = Math.max(1, ch / Math.max(1, n));
    let drawn = 0;
    for (let k = 0; k < n; k++) {
      const s = m.order[k];
      const x = s.st / m.end * cw, w = Math.max(1, (s.en - s.st) / m.end * cw);
      if (!isFinite(x) || !isFinite(w)) continue;
      g.fillStyle = s.err ? errColor : color[s.cls];
      g.fillRect(x, Math.min(ch - rowH, k / n * ch), w, Math.min(rowH, 3));
      drawn++;
    }
    if (m.v0 > 0 || m.v1 < m.end) {
      const a = m.v0 / m.end * cw, b = m.v1 / m.end * cw;
      g.fillStyle = 'rgba(20, 26, 40, 0.28)';
      g.fillRect(0, 0, a, ch);
      g.fillRect(b, 0, cw - b, ch);
      g.strokeStyle = css.getPropertyValue('--accent').trim() || '#36f';
      g.lineWidth = 1.5;
      g.strokeRect(a + 0.75, 0.75, Math.max(1, b - a - 1.5), ch - 1.5);
    }
    overviewDrawn = drawn;
  }

  function setView(v0, v1) {
    const m = cur;
    const minRange = 1000;  // 1 µs
    v0 = Math.max(0, v0);
    v1 = Math.min(m.end, v1);
    if (v1 - v0 < minRange) {
      const mid = (v0 + v1) / 2;
      v0 = Math.max(0, mid - minRange / 2);
      v1 = Math.min(m.end, v0 + minRange);
    }
    m.v0 = v0;
    m.v1 = v1;
    renderAxis();
    render();
  }

  // ---- selection, open/close, search ----
  function select(idx, scroll) {
    const m = cur;
    if (!m.rows.length) return;
    idx = Math.max(0, Math.min(m.rows.length - 1, idx));
    m.sel = idx;
    if (scroll !== false) {
      const top = idx * ROW_H, viewH = scroller.clientHeight - 28;
      if (top < scroller.scrollTop) scroller.scrollTop = top;
      else if (top + ROW_H > scroller.scrollTop + viewH) scroller.scrollTop = top + ROW_H - viewH;
    }
    render();
    showDetails(m, m.rows[idx]);
    setHash(m.tr.id, m.rows[idx].id);
  }

  function toggle(idx, want) {
    const m = cur;
    const n = m.rows[idx];
    if (!n || !n.kids.length || m.q) return;
    n.open = want === undefined ? !n.open : want;
    flatten(m);
    render();
  }

  function setAll(open) {
    const m = cur;
    for (const n of m.nodes) n.open = open;
    flatten(m);
    render();
  }

  function setSearch(q) {
    const m = cur;
    m.q = q.trim().toLowerCase();
    flatten(m);
    $('search-count').textContent = m.q ? m.hits.toLocaleString('en-US') + ' of ' +
      m.nodes.length.toLocaleString('en-US') : '';
    render();
  }

  // ---- the details panel ----
  function valueCell(v) {
    const td = el('td');
    const span = el('span', 'val');
    if (typeof v === 'number') span.classList.add('num');
    if (typeof v === 'boolean') span.classList.add('bool');
    span.textContent = typeof v === 'string' ? v : JSON.stringify(v);
    td.append(span);
    return td;
  }
  // an attribute's name, breakable after its dots
  function keyCell(k) {
    const td = el('td');
    k.split('.').forEach((part, i, all) => {
      td.append(part + (i < all.length - 1 ? '.' : ''));
      if (i < all.length - 1) td.append(el('wbr'));
    });
    return td;
  }
  function kvTable(obj, sort) {
    const t = el('table', 'kv');
    const keys = Object.keys(obj || {});
    if (sort) keys.sort();
    for (const k of keys) {
      const tr = el('tr');
      tr.append(keyCell(k), valueCell(obj[k]));
      t.append(tr);
    }
    return t;
  }
  function section(title, content) {
    const s = el('div', 'd-sec');
    s.append(el('h3', null, title));
    if (content) s.append(content);
    details.append(s);
    return s;
  }

  // time inside the span that none of its children covers, overlaps counted once
  function selfTime(n) {
    const iv = n.kids.map((c) => [Math.max(n.st, c.st), Math.min(n.en, c.en)])
      .filter((a) => a[1] > a[0]).sort((a, b) => a[0] - b[0]);
    let covered = 0, from = -Infinity, to = -Infinity;
    for (const [a, b] of iv) {
      if (a > to) { covered += to - from > 0 ? to - from : 0; from = a; to = b; } else if (b > to) to = b;
    }
    covered += to - from > 0 ? to - from : 0;
    return n.en - n.st - covered;
  }

  function showDetails(m, n) {
    details.textContent = '';
    if (!n) {
      details.append(el('div', 'empty', 'Click a span (or move with ↑ ↓) to see its attributes, events, resource and timing.'));
      return;
    }
    const s = n.s;
    const head = el('div', 'd-head c-' + n.cls);
    const cls = el('div', 'd-class');
    cls.append(el('i'), CLASS_LABEL[n.cls] + ' · ' + String(s.kind || 'INTERNAL'));
    head.append(cls, el('div', 'd-name', n.name));
    const status = String(s.status || 'UNSET');
    head.append(el('span', 'd-status ' + status, status));
    if (s.status_message) head.append(el('div', 'd-msg', s.status_message));
    if (n.orphan) head.append(el('div', 'd-orphan', 'Orphan: its parent span ' + (s.parent || '') +
                                 ' is not in the data, so it is shown at the top level.'));
    details.append(head);

    const timing = el('table', 'kv');
    const row = (k, v) => { const tr = el('tr'); tr.append(el('td', null, k), valueCell(v)); timing.append(tr); };
    const bar = el('div', 'tbar c-' + n.cls);
    const fill = el('span');
    fill.style.left = (n.st / m.end * 100) + '%';
    fill.style.width = ((n.en - n.st) / m.end * 100) + '%';
    bar.append(fill);
    const tsec = section('Timing', bar);
    tsec.append(timing);
    row('duration', fmtDur(n.en - n.st) + '  (' + pct(n.en - n.st, m.end) + ' of the trace)');
    if (n.kids.length) row('self time', fmtDur(selfTime(n)) + '  (outside its ' + n.kids.length +
                          (n.kids.length === 1 ? ' child)' : ' children)'));
    row('start', '+' + fmtDur(n.st) + '   ' + fmtAbs(big(s.start)));
    row('end', '+' + fmtDur(n.en) + '   ' + fmtAbs(big(s.end)));

    const ids = el('table', 'kv');
    const idRow = (k, v, target) => {
      const tr = el('tr');
      const td = valueCell(v);
      if (target) {
        const a = el('a', 'link', v);
        a.addEventListener('click', () => selectNode(target));
        td.firstChild.textContent = '';
        td.firstChild.append(a);
      }
      tr.append(el('td', null, k), td);
      ids.append(tr);
    };
    idRow('span', n.id);
    if (s.parent) idRow('parent', String(s.parent), n.parent);
    idRow('trace', String(s.trace || m.tr.id));
    if (n.kids.length) idRow('children', n.kids.length + (n.sub > n.kids.length ? ' (' + n.sub + ' below)' : ''));
    section('Span', ids);

    const attrs = s.attrs && typeof s.attrs === 'object' ? s.attrs : {};
    section('Attributes (' + Object.keys(attrs).length + ')', Object.keys(attrs).length ? kvTable(attrs, true)
      : el('div', 'none', 'none'));

    const evs = Array.isArray(s.events) ? s.events : [];
    const evSec = section('Events (' + evs.length + ')');
    for (const e of evs) {
      const item = el('div', 'ev-item');
      const b = big(e && e.time);
      item.append(el('b', null, e && e.name ? e.name : '(event)'),
                  el('span', 'ev-t', b === null ? '' : '+' + fmtDur(Number(b - m.base)) + ' (' +
                     fmtDur(Number(b - m.base) - n.st) + ' into the span)'));
      if (e && e.attrs && Object.keys(e.attrs).length) item.append(kvTable(e.attrs, true));
      evSec.append(item);
    }

    const res = s.resource && typeof s.resource === 'object' ? s.resource : {};
    section('Resource', Object.keys(res).length ? kvTable(res, true) : el('div', 'none', 'none'));
  }

  function selectNode(target) {
    const m = cur;
    // open the way to it, clear a search that hides it
    for (let p = target.parent; p; p = p.parent) p.open = true;
    if (m.q && !target.keep) { search.value = ''; m.q = ''; }
    flatten(m);
    const idx = m.rows.indexOf(target);
    if (idx >= 0) select(idx);
  }

  // ---- choosing a trace ----
  let hashOn = false;
  function setHash(trace, span) {
    if (!hashOn) return;
    try {
      history.replaceState(null, '', '#trace=' + encodeURIComponent(trace) +
                           (span ? '&span=' + encodeURIComponent(span) : ''));
    } catch (e) { /* file:// in some browsers */ }
  }

  function choose(k) {
    const t = traces[k];
    if (!t) return;
    document.querySelectorAll('.trace-item').forEach((li) => li.classList.toggle('sel', li.dataset.k === String(k)));
    const m = model(t);
    cur = m;
    search.value = m.q;
    flatten(m);
    buildTraceHead(m);
    scroller.scrollTop = 0;
    renderAxis();
    render();
    showDetails(m, m.sel >= 0 ? m.rows[m.sel] : null);
    setHash(t.id, '');
  }

  // ---- mouse: zoom by dragging on the timeline or the overview ----
  let drag = null, dragMoved = false;
  function startDrag(e, area, toTime) {
    if (e.button !== 0 || !cur) return;
    const r = area.getBoundingClientRect();
    drag = { area, r, x0: e.clientX, toTime };
    dragMoved = false;
    e.preventDefault();
    scroller.focus({ preventScroll: true });
  }
  window.addEventListener('mousemove', (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x0;
    if (!dragMoved && Math.abs(dx) < 4) return;
    dragMoved = true;
    const wrap = brush.parentElement.getBoundingClientRect();
    const a = Math.max(drag.r.left, Math.min(drag.x0, e.clientX));
    const b = Math.min(drag.r.right, Math.max(drag.x0, e.clientX));
    brush.hidden = false;
    brush.style.left = (a - wrap.left) + 'px';
    brush.style.width = Math.max(1, b - a) + 'px';
  });
  window.addEventListener('mouseup', (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    brush.hidden = true;
    if (!dragMoved) return;
    const a = Math.min(d.x0, e.clientX) - d.r.left, b = Math.max(d.x0, e.clientX) - d.r.left;
    setView(d.toTime(Math.max(0, a), d.r.width), d.toTime(Math.min(d.r.width, b), d.r.width));
    setTimeout(() => { dragMoved = false; }, 0);
  });
  const laneTime = (x, w) => cur.v0 + x / w * (cur.v1 - cur.v0);
  scroller.addEventListener('mousedown', (e) => {
    const r = scroller.getBoundingClientRect();
    if (e.clientX - r.left < namesW) return;
    const left = r.left + namesW + PAD_L;
    const fake = { getBoundingClientRect: () => ({ left, right: left + laneWidth(), width: laneWidth() }) };
    startDrag(e, fake, laneTime);
  });
  overview.addEventListener('mousedown', (e) => startDrag(e, overview, (x, w) => x / w * cur.end));
  const resetZoom = () => { if (cur) setView(0, cur.end); };
  scroller.addEventListener('dblclick', (e) => {
    if (e.clientX - scroller.getBoundingClientRect().left >= namesW) resetZoom();
  });
  overview.addEventListener('dblclick', resetZoom);
  $('zoom-reset').addEventListener('click', resetZoom);
  // ctrl/cmd + wheel zooms around the pointer; a sideways wheel pans
  scroller.addEventListener('wheel', (e) => {
    if (!cur) return;
    const r = scroller.getBoundingClientRect();
    const x = e.clientX - r.left - namesW - PAD_L, w = laneWidth();
    const m = cur, range = m.v1 - m.v0;
    if ((e.ctrlKey || e.metaKey) && x >= 0) {
      e.preventDefault();
      const at = m.v0 + x / w * range, f = Math.exp(e.deltaY * 0.002);
      const nr = Math.min(m.end, range * f);
      setView(at - (at - m.v0) / range * nr, at - (at - m.v0) / range * nr + nr);
    } else if (Math.abs(e.deltaX) > Math.abs(e.deltaY) && (m.v0 > 0 || m.v1 < m.end)) {
      e.preventDefault();
      let d = e.deltaX / w * range;
      d = Math.max(-m.v0, Math.min(m.end - m.v1, d));
      setView(m.v0 + d, m.v1 + d);
    }
  }, { passive: false });

  // the names column's width
  $('col-resize').addEventListener('mousedown', (e) => {
    e.preventDefault();
    e.stopPropagation();
    const x0 = e.clientX, w0 = namesW;
    const move = (ev) => {
      namesW = Math.max(160, Math.min(scroller.clientWidth - 120, w0 + ev.clientX - x0));
      document.documentElement.style.setProperty('--names', namesW + 'px');
      for (const o of pool) o.node = null;
      renderAxis();
      render();
    };
    const up = () => { window.removeEventListener('mousemove', move); window.removeEventListener('mouseup', up); };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  });

  // ---- keyboard ----
  function onKey(e) {
    const m = cur;
    if (!m || !m.rows.length) return;
    const page = Math.max(1, Math.floor((scroller.clientHeight - 28) / ROW_H) - 1);
    const n = m.rows[m.sel];
    switch (e.key) {
    case 'ArrowDown': select(m.sel < 0 ? 0 : m.sel + 1); break;
    case 'ArrowUp': select(m.sel < 0 ? 0 : m.sel - 1); break;
    case 'PageDown': select(Math.max(0, m.sel) + page); break;
    case 'PageUp': select(Math.max(0, m.sel) - page); break;
    case 'Home': select(0); break;
    case 'End': select(m.rows.length - 1); break;
    case 'ArrowRight':
      if (!n) select(0);
      else if (n.kids.length && !n.open && !m.q) toggle(m.sel, true);
      else if (n.kids.length) select(m.sel + 1);
      break;
    case 'ArrowLeft':
      if (!n) break;
      if (n.kids.length && n.open && !m.q) toggle(m.sel, false);
      else if (n.parent) selectNode(n.parent);
      break;
    case 'Enter':
      if (n) { toggle(m.sel); select(m.sel, false); }
      break;
    case 'Escape':
      m.sel = -1;
      render();
      showDetails(m, null);
      break;
    default:
      return;
    }
    e.preventDefault();
  }
  scroller.addEventListener('keydown', onKey);
  document.addEventListener('keydown', (e) => {
    if (e.target === search || e.target === scroller) return;
    if (e.key === '/' && !e.ctrlKey && !e.metaKey) { e.preventDefault(); search.focus(); search.select(); return; }
    if (e.key.startsWith('Arrow') || e.key === 'Enter' || e.key.startsWith('Page')) {
      if (e.target && e.target.tagName === 'BUTTON' && e.key === 'Enter') return;
      scroller.focus();
      onKey(e);
    }
  });
  search.addEventListener('input', () => { if (cur) { scroller.scrollTop = 0; setSearch(search.value); } });
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && cur && cur.rows.length) {
      e.preventDefault();
      const k = cur.rows.findIndex((n) => n.hit);
      scroller.focus();
      select(k >= 0 ? k : 0);
    } else if (e.key === 'Escape') {
      search.value = '';
      setSearch('');
      scroller.focus();
    }
  });
  $('expand-all').addEventListener('click', () => cur && setAll(true));
  $('collapse-all').addEventListener('click', () => cur && setAll(false));
  let scrollQueued = false;
  scroller.addEventListener('scroll', () => {
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(() => { scrollQueued = false; render(); });
  });
  window.addEventListener('resize', () => { if (cur) { for (const o of pool) o.node = null; renderAxis(); render(); } });

  // ---- what the integration test reads back ----
  function selftest(m) {
    const seen = new Set(), barred = new Set();
    const step = Math.max(ROW_H, scroller.clientHeight - 28 - ROW_H);
    let t = performance.now(), renders = 0;
    for (let top = 0; ; top += step, renders++) {
      scroller.scrollTop = top;
      render();
      for (const o of pool) {
        if (o.idx < 0) continue;
        seen.add(o.node.i);
        if (o.bar.style.display !== 'none' && parseFloat(o.bar.style.width) >= 1) barred.add(o.node.i);
      }
      if (top + scroller.clientHeight >= m.rows.length * ROW_H + 28) break;
    }
    // what one screenful, an expand/collapse of everything and a search cost
    const ms = (t0) => (performance.now() - t0).toFixed(2);
    const out = { seen: seen.size, bars: barred.size, scrollMs: ((performance.now() - t) / (renders + 1)).toFixed(2) };
    scroller.scrollTop = 0;
    render();
    t = performance.now();
    setAll(false);
    out.collapseMs = ms(t);
    out.collapsed = m.rows.length;
    t = performance.now();
    setAll(true);
    out.expandMs = ms(t);
    out.expanded = m.rows.length;
    const probe = m.nodes.find((n) => n.err) || m.nodes[m.nodes.length - 1];
    if (probe) {
      t = performance.now();
      setSearch(probe.name);
      out.searchMs = ms(t);
      out.searchHits = m.hits;
      out.searchWant = m.nodes.filter((n) => n.lc.includes(probe.lc)).length;
      setSearch('');
    }
    // the keys, a click, a drag on the timeline and a double-click, as a user makes them
    const key = (k) => scroller.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true }));
    select(0);
    key('ArrowDown');
    out.keySel = m.sel;
    key('ArrowUp');
    key('Enter');
    out.enterRows = m.rows.length;
    key('Enter');
    const row = pool.find((o) => o.idx === 2);
    if (row) {
      row.r.dispatchEvent(new MouseEvent('click', { bubbles: true }));
      out.clickSel = m.sel;
    }
    out.detailsName = details.querySelector('.d-name') ? details.querySelector('.d-name').textContent : '';
    const r = scroller.getBoundingClientRect(), w = laneWidth(), y = r.top + 40;
    const at = (f) => r.left + namesW + PAD_L + f * w;
    const mouse = (type, x, target) => (target || window).dispatchEvent(new MouseEvent(type, {
      bubbles: true, button: 0, clientX: x, clientY: y }));
    mouse('mousedown', at(0.25), scroller);
    mouse('mousemove', at(0.4));
    mouse('mousemove', at(0.5));
    mouse('mouseup', at(0.5));
    out.dragZoom = Math.abs(m.v0 - m.end * 0.25) < m.end * 0.01 && Math.abs(m.v1 - m.end * 0.5) < m.end * 0.01 ? 1 : 0;
    out.zoomTicks = ticksEl.children.length;
    dragMoved = false;
    scroller.dispatchEvent(new MouseEvent('dblclick', { bubbles: true, clientX: at(0.3), clientY: y }));
    out.dblclickReset = m.v0 === 0 && m.v1 === m.end ? 1 : 0;
    m.sel = -1;
    showDetails(m, null);
    render();
    for (const [k, v] of Object.entries(out)) body.dataset['selftest' + k[0].toUpperCase() + k.slice(1)] = String(v);
  }

  function main() {
    buildLegend();
    buildTraceList();
    const top = $('top-meta');
    const files = Array.isArray(data.files) ? data.files : [];
    top.textContent = (files.length ? files.join(', ') + ' · ' : '') +
      (data.generated ? 'generated ' + String(data.generated).replace('T', ' ').replace('Z', ' UTC') : '');
    const h = new URLSearchParams(location.hash.slice(1));
    const want = h.get('trace') || '';
    let k = want ? traces.findIndex((t) => String(t.id) === want) : 0;
    if (k < 0) k = traces.findIndex((t) => String(t.id).startsWith(want));
    if (!traces.length) {
      $('trace-head').append(el('div', 'empty', 'No traces in this report.'));
      showDetails(null, null);
      body.dataset.renderedSpans = '0';
      body.dataset.traceSpans = '0';
      return;
    }
    if (k < 0) k = 0;
    const tModel = performance.now();
    choose(k);
    const m = cur;
    const w = laneWidth();
    // every row of the (fully open) row model with a place on the axis
    let placed = 0;
    for (const n of m.rows) {
      const x0 = xOf(m, n.st, w), x1 = xOf(m, n.en, w);
      if (isFinite(x0) && isFinite(x1) && x1 >= x0) placed++;
    }
    const drawn = overviewDrawn;
    const tEnd = performance.now();
    body.dataset.trace = String(m.tr.id);
    body.dataset.traces = String(traces.length);
    body.dataset.traceSpans = String((byTrace.get(String(m.tr.id)) || []).length);
    body.dataset.renderedSpans = String(placed);
    body.dataset.overviewSpans = String(drawn);
    body.dataset.renderMs = tEnd.toFixed(1);
    body.dataset.scriptMs = (tEnd - T_SCRIPT).toFixed(1);
    body.dataset.modelMs = (tEnd - tModel).toFixed(1);
    const span = h.get('span');
    if (span) {
      const target = m.nodes.find((n) => n.id === span);
      if (target) selectNode(target);
    }
    if (h.get('selftest') === '1') selftest(m);
    hashOn = true;
  }

  showDetails(null, null);
  try {
    main();
  } catch (e) {
    noteError(e && e.stack ? e.stack : e);
    fatal('The page failed to draw: ' + (e && e.message));
  }
})();
