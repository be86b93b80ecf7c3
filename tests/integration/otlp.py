# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Reads spanprobe's OTLP/JSON-lines output into flat Span records.

Every line must be one ExportTraceServiceRequest in OTLP JSON encoding. The
reader never throws on malformed input: it records each deviation from the
encoding in Output.problems, so a test reports all of them at once and still
gets whatever spans were readable.
"""
import json
import re
from dataclasses import dataclass, field

HEX32 = re.compile(r"[0-9a-f]{32}")
HEX16 = re.compile(r"[0-9a-f]{16}")
DECIMAL = re.compile(r"-?[0-9]+")

KIND_INTERNAL, KIND_SERVER, KIND_CLIENT = 1, 2, 3
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str  # "" for a trace root
    name: str
    kind: int
    start: int  # unix ns
    end: int
    attrs: dict
    status_code: int
    status_message: str
    resource: dict
    line: int  # 1-based line of the output file, for reports

    @property
    def duration_ms(self):
        return (self.end - self.start) / 1e6

    @property
    def pid(self):
        """The pid of the process the span belongs to (resource attribute)."""
        return self.resource.get("process.pid")

    def brief(self):
        """One line for failure reports: identity, links, timing, attributes."""
        kind = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT"}.get(self.kind, self.kind)
        attrs = " ".join(f"{k}={v!r}" for k, v in sorted(self.attrs.items()))
        return (f"[line {self.line}] {kind} {self.name!r} pid={self.pid} "
                f"service={self.resource.get('service.name')!r} "
                f"trace={self.trace_id} span={self.span_id} parent={self.parent_id or '-'} "
                f"dur={self.duration_ms:.1f}ms status={self.status_code}"
                f"{'/' + self.status_message if self.status_message else ''} {attrs}")


@dataclass
class Output:
    spans: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    text: str = ""


def any_value(value, where, problems):
    """Decodes one OTLP AnyValue; intValue must be a decimal string."""
    if not isinstance(value, dict) or len(value) != 1:
        problems.append(f"{where}: value {value!r} is not a one-key AnyValue")
        return None
    (kind, v), = value.items()
    if kind == "stringValue" and isinstance(v, str):
        return v
    if kind == "intValue":
        # OTLP JSON encodes int64 as a decimal string.
        if isinstance(v, str) and DECIMAL.fullmatch(v):
            return int(v)
        problems.append(f"{where}: intValue {v!r} is not a decimal string")
        return int(v) if isinstance(v, int) else None
    if kind == "boolValue" and isinstance(v, bool):
        return v
    if kind == "doubleValue" and isinstance(v, (int, float)):
        return float(v)
    if kind == "arrayValue" and isinstance(v, dict):
        return [any_value(x, where, problems) for x in v.get("values", [])]
    problems.append(f"{where}: unsupported or mistyped value {value!r}")
    return None


def attributes(items, where, problems):
    if items is None:
        return {}
    if not isinstance(items, list):
        problems.append(f"{where}: attributes is not a list")
        return {}
    out = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            problems.append(f"{where}: malformed attribute {item!r}")
            continue
        if item["key"] in out:
            problems.append(f"{where}: duplicate attribute {item['key']!r}")
        out[item["key"]] = any_value(item.get("value"), f"{where} {item['key']}", problems)
    return out


def timestamp(raw, name, where, problems):
    if isinstance(raw, str) and DECIMAL.fullmatch(raw):
        return int(raw)
    problems.append(f"{where}: {name} {raw!r} is not a decimal string")
    return raw if isinstance(raw, int) else 0


def span(raw, resource, where, line, problems):
    def ident(key, pattern, optional=False):
        value = raw.get(key)
        if optional and value in (None, ""):
            return ""
        if not isinstance(value, str) or not pattern.fullmatch(value) or set(value) == {"0"}:
            problems.append(f"{where}: {key} {value!r} is not non-zero lowercase hex "
                            f"of the right length")
            return str(value)
        return value

    kind = raw.get("kind")
    if kind not in (1, 2, 3):
        problems.append(f"{where}: kind {kind!r} is not 1, 2 or 3")
    status = raw.get("status") or {}
    code = status.get("code", 0)
    if code not in (0, 1, 2):
        problems.append(f"{where}: status.code {code!r} is not 0, 1 or 2")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: missing name")
    s = Span(trace_id=ident("traceId", HEX32), span_id=ident("spanId", HEX16),
             parent_id=ident("parentSpanId", HEX16, optional=True),
             name=str(name), kind=kind,
             start=timestamp(raw.get("startTimeUnixNano"), "startTimeUnixNano", where, problems),
             end=timestamp(raw.get("endTimeUnixNano"), "endTimeUnixNano", where, problems),
             attrs=attributes(raw.get("attributes"), where, problems),
             status_code=code, status_message=status.get("message", ""),
             resource=resource, line=line)
    if s.end < s.start:
        problems.append(f"{where}: ends before it starts")
    return s


def request(obj, line, out):
    """One ExportTraceServiceRequest (one output line)."""
    where = f"line {line}"
    if not isinstance(obj, dict) or not isinstance(obj.get("resourceSpans"), list):
        out.problems.append(f"{where}: no resourceSpans list")
        return
    for i, rs in enumerate(obj["resourceSpans"]):
        rwhere = f"{where} resourceSpans[{i}]"
        resource = attributes((rs.get("resource") or {}).get("attributes"), rwhere, out.problems)
        for j, ss in enumerate(rs.get("scopeSpans") or []):
            swhere = f"{rwhere} scopeSpans[{j}]"
            scope = ss.get("scope") or {}
            if scope.get("name") != "spanprobe":
                out.problems.append(f"{swhere}: scope.name {scope.get('name')!r} != 'spanprobe'")
            for k, raw in enumerate(ss.get("spans") or []):
                out.spans.append(span(raw, resource, f"{swhere} spans[{k}]", line, out.problems))


def load(path):
    """Parses the whole output file. A missing file is a problem, not an error."""
    out = Output()
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            out.text = f.read()
    except FileNotFoundError:
        out.problems.append(f"output file {path} was not created")
        return out
    for n, text in enumerate(out.text.splitlines(), 1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            out.problems.append(f"line {n}: not JSON ({err}): {text[:120]!r}")
            continue
        request(obj, n, out)
    seen = {}
    for s in out.spans:
        key = (s.trace_id, s.span_id)
        if key in seen:
            out.problems.append(f"line {s.line}: span {s.span_id} repeats line {seen[key]}")
        seen[key] = s.line
    return out


# ---- what the OTLP test receiver decoded (otlp_receiver/receiver.mjs) ----
def accepted(req):
    """The receiver answered this export request with success."""
    if req.get("protocol") == "grpc":
        return req.get("grpc_status") == 0
    return req.get("status") == 200


def from_receiver(requests, only_accepted=True):
    """The spans in the receiver's request records as an Output, Span.line
    being the request's sequence number. problems: what the receiver found
    wrong in the encoding, scopes other than spanprobe's, and spans that
    arrived twice (only_accepted: in requests the receiver accepted; a
    refused request is retried with the same spans by design)."""
    out = Output()
    seen = {}
    for req in requests:
        if req.get("seq") is None or (only_accepted and not accepted(req)):
            continue
        seq = req["seq"]
        out.problems += [f"request {seq}: {p}" for p in req.get("problems") or []]
        for raw in req.get("spans") or []:
            if raw["scope"]["name"] != "spanprobe":
                out.problems.append(f"request {seq}: scope.name {raw['scope']['name']!r} != 'spanprobe'")
            s = Span(trace_id=raw["traceId"], span_id=raw["spanId"], parent_id=raw["parentSpanId"],
                     name=raw["name"], kind=raw["kind"], start=int(raw["startTimeUnixNano"]),
                     end=int(raw["endTimeUnixNano"]), attrs=raw["attributes"],
                     status_code=raw["status"]["code"], status_message=raw["status"]["message"],
                     resource=raw["resource"], line=seq)
            key = (s.trace_id, s.span_id)
            if only_accepted and key in seen:
                out.problems.append(f"request {seq}: span {s.span_id} ({s.name!r}) was already "
                                    f"delivered in request {seen[key]}")
            seen[key] = seq
            out.spans.append(s)
    return out
