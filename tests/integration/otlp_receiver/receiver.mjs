#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// OTLP trace receiver for spanprobe's integration tests.
//
// It decodes what spanprobe exports with the protobufjs code that
// @opentelemetry/otlp-transformer generates from the official
// opentelemetry-proto schema, so the tests never share a schema (or a bug)
// with spanprobe's own encoder.
//
// usage: node receiver.mjs [--port N] [--grpc] [--out FILE] [--script 503,503,200]
//                          [--retry-after SECONDS] [--partial N]
//                          [--hang] [--ready-file FILE]
//   --port N        127.0.0.1 port to listen on; 0 (default) picks a free one
//   --grpc          serve OTLP/gRPC over cleartext HTTP/2 (h2c, prior knowledge)
//                   instead of OTLP/HTTP over HTTP/1.1
//   --out FILE      append one JSON line per request received (default stdout)
//   --retry-after S a Retry-After: S header on every non-200 HTTP answer
//   --partial N     200 answers carry a partial_success rejecting N spans
//   --script LIST   the HTTP status of each successive export request; 200
//                   once the list is used up. gRPC answers HTTP 200 with
//                   grpc-status 14 for 503, 3 for 400 (see GRPC_STATUS).
//   --hang          read requests but never answer them
//   --ready-file F  once listening, write {"event":"ready","port":N} to F
//                   (it is always printed on stdout as well)
// Exits on SIGTERM/SIGINT, and when its stdin is a pipe that reaches EOF (so
// it never outlives the test runner).
//
// An output line: {"seq", "time_ms", "protocol": "http"|"grpc", "method",
//   "path", "content_type", "content_encoding", "grpc_encoding", "grpc_compressed"
//   (the frame's compressed flag),
//   "headers": {lowercase name: value}, "body_bytes", "status" (HTTP status
//   answered, null with --hang), "grpc_status", "problems": [..],
//   "spans": [{"traceId", "spanId", "parentSpanId" (lowercase hex, "" when
//   absent), "name", "kind", "startTimeUnixNano", "endTimeUnixNano" (decimal
//   strings), "status": {"code", "message"}, "attributes": {key: value},
//   "resource": {key: value}, "scope": {"name", "version"}}]}
// Attribute values: strings, booleans, doubles, arrays and objects as JSON;
// int64 always as exact JSON integers; bytes as base64.
// "problems" lists every deviation from the OTLP encoding the receiver
// noticed (bad framing, an undecodable body, non-hex ids, JSON int64 not
// written as strings, fields the schema does not have, ...).
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const root = require(path.join(HERE, 'node_modules', '@opentelemetry', 'otlp-transformer',
  'build', 'src', 'generated', 'root.js'));
const pb = root.opentelemetry.proto;
const ExportRequest = pb.collector.trace.v1.ExportTraceServiceRequest;
const ExportResponse = pb.collector.trace.v1.ExportTraceServiceResponse;

const TRACES_PATH = '/v1/traces';
const GRPC_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
// HTTP status in --script -> gRPC status code (google.rpc.Code)
const GRPC_STATUS = { 200: 0, 400: 3, 401: 16, 403: 7, 404: 12, 429: 8, 500: 13, 501: 12,
  502: 14, 503: 14, 504: 4 };

// ---- command line ----
function parseArgs(argv) {
  const args = { port: 0, grpc: false, out: null, script: [], hang: false, readyFile: null,
    retryAfter: null, partial: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port') args.port = Number(value());
    else if (a === '--grpc') args.grpc = true;
    else if (a === '--out') args.out = value();
    else if (a === '--script') args.script = value().split(',').filter(Boolean).map(Number);
    else if (a === '--hang') args.hang = true;
    else if (a === '--ready-file') args.readyFile = value();
    else if (a === '--retry-after') args.retryAfter = Number(value());
    else if (a === '--partial') args.partial = Number(value());
    else usage(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) usage('bad --port');
  if (args.script.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) usage('bad --script');
  return args;
}

function usage(message) {
  process.stderr.write(`receiver: ${message}\n`);
  process.exit(2);
}

const args = parseArgs(process.argv.slice(2));
let seq = 0;

function record(entry) {
  const line = stringify(entry) + '\n';
  if (args.out) fs.appendFileSync(args.out, line);
  else process.stdout.write(line);
}

// JSON with BigInt written as exact integers (JSON.stringify rejects BigInt).
function stringify(value) {
  const marked = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `\u0000big:${v}` : v));
  return marked.replace(/"\\u0000big:(-?\d+)"/g, '$1');
}

function nextStatus() {
  const i = seq - 1; // seq counts export requests, from 1
  return i < args.script.length ? args.script[i] : 200;
}

// ---- decoding ----
const hex = (bytes) => (bytes ? Buffer.from(bytes).toString('hex') : '');
const int64 = (v) => (v === null || v === undefined ? null : BigInt(v.toString()));

function anyValue(v) {
  if (!v || !v.value) return null;
  switch (v.value) {
    case 'stringValue': return v.stringValue;
    case 'boolValue': return v.boolValue;
    case 'intValue': return int64(v.intValue);
    case 'doubleValue': return v.doubleValue;
    case 'arrayValue': return (v.arrayValue.values || []).map(anyValue);
    case 'kvlistValue': return attributes(v.kvlistValue.values);
    case 'bytesValue': return Buffer.from(v.bytesValue).toString('base64');
    default: return null;
  }
}

function attributes(list, problems, where) {
  const out = {};
  for (const kv of list || []) {
    if (problems && Object.prototype.hasOwnProperty.call(out, kv.key)) {
      problems.push(`${where}: duplicate attribute ${JSON.stringify(kv.key)}`);
    }
    out[kv.key] = anyValue(kv.value);
  }
  return out;
}

// The decoded request, flattened to one record per span.
function flatten(req, problems) {
  const spans = [];
  (req.resourceSpans || []).forEach((rs, i) => {
    const resource = attributes(rs.resource && rs.resource.attributes, problems,
      `resourceSpans[${i}].resource`);
    (rs.scopeSpans || []).forEach((ss, j) => {
      const scope = { name: (ss.scope && ss.scope.name) || '', version: (ss.scope && ss.scope.version) || '' };
      (ss.spans || []).forEach((s, k) => {
        const where = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;
        spans.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name || '',
          kind: s.kind || 0,
          startTimeUnixNano: String(int64(s.startTimeUnixNano) ?? 0n),
          endTimeUnixNano: String(int64(s.endTimeUnixNano) ?? 0n),
          status: { code: (s.status && s.status.code) || 0, message: (s.status && s.status.message) || '' },
          attributes: attributes(s.attributes, problems, where),
          resource,
          scope,
        });
      });
    });
  });
  return spans;
}

// OTLP/JSON -> the object protobufjs' fromObject expects: ids are hex in
// OTLP/JSON (base64 in the canonical protobuf JSON mapping fromObject
// follows). Checks the encoding rules on the way.
const ID_FIELDS = { traceId: 32, spanId: 16, parentSpanId: 16 };
const INT64_FIELDS = new Set(['startTimeUnixNano', 'endTimeUnixNano', 'timeUnixNano', 'intValue']);

function fromOtlpJson(value, problems, where) {
  if (Array.isArray(value)) return value.map((v, i) => fromOtlpJson(v, problems, `${where}[${i}]`));
  if (value === null || typeof value !== 'object') return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    const at = `${where}.${k}`;
    if (k in ID_FIELDS) {
      if (v === '' && k === 'parentSpanId') {
        out[k] = Buffer.alloc(0);
      } else if (typeof v !== 'string' || !new RegExp(`^[0-9a-f]{${ID_FIELDS[k]}}$`).test(v)) {
        problems.push(`${at}: ${JSON.stringify(v)} is not ${ID_FIELDS[k]} lowercase hex digits`);
        out[k] = Buffer.alloc(0);
      } else {
        out[k] = Buffer.from(v, 'hex');
      }
    } else if (INT64_FIELDS.has(k)) {
      if (typeof v !== 'string' || !/^-?\d+$/.test(v)) {
        problems.push(`${at}: int64 ${JSON.stringify(v)} is not a decimal string`);
      }
      out[k] = v;
    } else {
      out[k] = fromOtlpJson(v, problems, at);
    }
  }
  return out;
}

// Keys of the JSON body that the schema does not know (fromObject silently
// drops them: a misspelt field would otherwise just look absent).
function unknownKeys(json, known, problems, where) {
  if (Array.isArray(json)) {
    json.forEach((v, i) => unknownKeys(v, Array.isArray(known) ? known[i] : undefined, problems, `${where}[${i}]`));
    return;
  }
  if (json === null || typeof json !== 'object') return;
  for (const [k, v] of Object.entries(json)) {
    if (!known || typeof known !== 'object' || !(k in known)) {
      problems.push(`${where}.${k}: not a field of the OTLP schema`);
    } else {
      unknownKeys(v, known[k], problems, `${where}.${k}`);
    }
  }
}

function decodeBody(raw, contentType, problems) {
  if (contentType === 'application/x-protobuf' || contentType === 'application/grpc') {
    return ExportRequest.decode(raw);
  }
  if (contentType === 'application/json') {
    const json = JSON.parse(raw.toString('utf8'));
    const msg = ExportRequest.fromObject(fromOtlpJson(json, problems, '$'));
    const err = ExportRequest.verify(msg);
    if (err) problems.push(`JSON body does not verify: ${err}`);
    unknownKeys(json, ExportRequest.toObject(msg, { longs: String, bytes: String }), problems, '$');
    return msg;
  }
  throw new Error(`unsupported content type ${JSON.stringify(contentType)}`);
}

function gunzipIf(body, encoding, problems) {
  if (!encoding || encoding === 'identity') return body;
  if (encoding !== 'gzip') throw new Error(`unsupported encoding ${JSON.stringify(encoding)}`);
  try {
    return zlib.gunzipSync(body);
  } catch (err) {
    problems.push(`body is not valid gzip: ${err.message}`);
    throw err;
  }
}

// One export request's body -> {spans, problems}; decode errors become problems.
function decodeExport(body, contentType, encoding, problems) {
  try {
    return flatten(decodeBody(gunzipIf(body, encoding, problems), contentType, problems), problems);
  } catch (err) {
    problems.push(`cannot decode the request: ${err.message}`);
    return null;
  }
}

function baseType(contentType) {
  return (contentType || '').split(';')[0].trim().toLowerCase();
}

// google.rpc.Status {code = 1; message = 2}, the body of OTLP/HTTP errors
function rpcStatusProto(code, message) {
  const msg = Buffer.from(message);
  if (msg.length > 127) throw new Error('message too long for this encoder');
  return Buffer.concat([Buffer.from([0x08, code, 0x12, msg.length]), msg]);
}

// ---- OTLP/HTTP (HTTP/1.1) ----
function serveHttp() {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry = {
        seq: null, time_ms: Date.now(), protocol: 'http', http_version: req.httpVersion,
        method: req.method, path: req.url,
        content_type: req.headers['content-type'] ?? null,
        content_encoding: req.headers['content-encoding'] ?? null,
        grpc_encoding: null, grpc_compressed: null, headers: { ...req.headers }, body_bytes: body.length,
        status: null, grpc_status: null, problems: [], spans: null,
      };
      if (req.method !== 'POST') {
        entry.status = 405;
        record(entry);
        res.writeHead(405).end();
        return;
      }
      entry.seq = ++seq;
      const type = baseType(entry.content_type);
      entry.spans = decodeExport(body, type, entry.content_encoding, entry.problems);
      if (args.hang) {
        record(entry); // and never answer
        return;
      }
      let status = nextStatus();
      if (entry.spans === null && status === 200) status = 400;
      entry.status = status;
      record(entry);
      const json = type === 'application/json';
      let payload;
      if (status === 200 && args.partial) {
        const message = `receiver: scripted partial success of ${args.partial}`;
        payload = json
          ? Buffer.from(JSON.stringify({ partialSuccess: { rejectedSpans: String(args.partial), errorMessage: message } }))
          : Buffer.from(ExportResponse.encode({ partialSuccess: { rejectedSpans: args.partial, errorMessage: message } }).finish());
      } else if (status === 200) {
        payload = json ? Buffer.from('{}') : Buffer.from(ExportResponse.encode({}).finish());
      } else {
        const code = GRPC_STATUS[status] ?? 2;
        const message = entry.spans === null ? 'receiver: cannot decode the request' : `receiver: scripted ${status}`;
        payload = json ? Buffer.from(JSON.stringify({ code, message })) : rpcStatusProto(code, message);
      }
      const headers = {
        'content-type': json ? 'application/json' : 'application/x-protobuf',
        'content-length': payload.length,
      };
      if (status !== 200 && args.retryAfter !== null) headers['retry-after'] = String(args.retryAfter);
      res.writeHead(status, headers);
      res.end(payload);
    });
  });
  server.keepAliveTimeout = 30_000;
  return server;
}

// ---- OTLP/gRPC (HTTP/2 cleartext) ----
function grpcFrame(message, problems) {
  if (message.length < 5) {
    problems.push(`gRPC body is ${message.length} bytes, shorter than a frame header`);
    return null;
  }
  const flag = message[0];
  const len = message.readUInt32BE(1);
  if (flag !== 0 && flag !== 1) problems.push(`gRPC compressed flag is ${flag}, not 0 or 1`);
  if (len !== message.length - 5) {
    problems.push(`gRPC frame says ${len} bytes, body has ${message.length - 5} after the header`);
  }
  return { flag, payload: message.subarray(5, 5 + len) };
}

function serveGrpc() {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('error', (err) => process.stderr.write(`receiver: stream error: ${err.message}\n`));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const copy = {};
      for (const [k, v] of Object.entries(headers)) copy[k] = v;
      const entry = {
        seq: null, time_ms: Date.now(), protocol: 'grpc', http_version: '2',
        method: headers[':method'], path: headers[':path'],
        content_type: headers['content-type'] ?? null, content_encoding: headers['content-encoding'] ?? null,
        grpc_encoding: headers['grpc-encoding'] ?? null, grpc_compressed: null, headers: copy,
        body_bytes: body.length, status: null, grpc_status: null, problems: [], spans: null,
      };
      if (entry.method !== 'POST') {
        entry.status = 405;
        record(entry);
        stream.respond({ ':status': 405 }, { endStream: true });
        return;
      }
      entry.seq = ++seq;
      if (headers.te !== 'trailers') entry.problems.push(`te is ${JSON.stringify(headers.te)}, not "trailers"`);
      const frame = grpcFrame(body, entry.problems);
      if (frame) {
        entry.grpc_compressed = frame.flag;
        let encoding = null;
        if (frame.flag === 1) {
          encoding = entry.grpc_encoding;
          if (!encoding || encoding === 'identity') {
            entry.problems.push('compressed gRPC frame without a grpc-encoding header');
          }
        }
        entry.spans = decodeExport(frame.payload, 'application/grpc', encoding, entry.problems);
      }
      if (args.hang) {
        record(entry);
        return;
      }
      let status = nextStatus();
      let grpcStatus = GRPC_STATUS[status] ?? 2;
      if (entry.spans === null && grpcStatus === 0) grpcStatus = 3; // INVALID_ARGUMENT
      entry.status = 200; // gRPC errors travel in the trailers of an HTTP 200
      entry.grpc_status = grpcStatus;
      record(entry);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => {
        const trailers = { 'grpc-status': String(grpcStatus) };
        if (grpcStatus !== 0) {
          trailers['grpc-message'] = entry.spans === null ? 'receiver: cannot decode the request'
            : `receiver: scripted ${status}`;
        }
        stream.sendTrailers(trailers);
      });
      if (grpcStatus === 0) {
        const msg = Buffer.from(ExportResponse.encode({}).finish());
        const header = Buffer.alloc(5);
        header.writeUInt32BE(msg.length, 1);
        stream.end(Buffer.concat([header, msg]));
      } else {
        stream.end();
      }
    });
  });
  server.on('sessionError', (err) => process.stderr.write(`receiver: HTTP/2 session error: ${err.message}\n`));
  server.on('unknownProtocol', () => process.stderr.write('receiver: a client did not speak HTTP/2\n'));
  return server;
}

// ---- main ----
const server = args.grpc ? serveGrpc() : serveHttp();
const sockets = new Set();
server.on('connection', (sock) => {
  sockets.add(sock);
  sock.on('close', () => sockets.delete(sock));
});
server.on('error', (err) => {
  process.stderr.write(`receiver: ${err.message}\n`);
  process.exit(1);
});
server.listen({ port: args.port, host: '127.0.0.1' }, () => {
  const ready = JSON.stringify({ event: 'ready', port: server.address().port, pid: process.pid });
  if (args.readyFile) {
    fs.writeFileSync(`${args.readyFile}.tmp`, ready + '\n');
    fs.renameSync(`${args.readyFile}.tmp`, args.readyFile);
  }
  process.stdout.write(ready + '\n');
});

function quit() {
  for (const sock of sockets) sock.destroy();
  process.exit(0);
}
process.on('SIGTERM', quit);
process.on('SIGINT', quit);
try {
  const st = fs.fstatSync(0);
  if (st.isFIFO() || st.isSocket()) {
    process.stdin.on('data', () => {});
    process.stdin.on('end', quit);
    process.stdin.on('error', quit);
  }
} catch {
  // no stdin at all: rely on the signals
}
