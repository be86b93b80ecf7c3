# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Process plumbing for the integration tests: the test servers, the OTLP
test receiver, spanprobe itself and the client programs, each started so that
cleanup can always end it (its own session, so a process group we can signal
by its id)."""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

import otlp

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PYTHON = "/usr/bin/python3"  # links the system libssl.so.3 that spanprobe probes
NODE = "/usr/bin/node"
READY = "spanprobe: ready"
RECEIVER_DIR = os.path.join(HERE, "otlp_receiver")
RECEIVER = os.path.join(RECEIVER_DIR, "receiver.mjs")
READY_TIMEOUT = 60  # attaching every probe can take seconds on a loaded VM
STOP_TIMEOUT = 30
CLIENT_TIMEOUT = 60


class Fail(Exception):
    """A test failure; spans, if given, are printed as evidence."""

    def __init__(self, message, spans=()):
        super().__init__(message)
        self.spans = list(spans)


class Skip(Exception):
    pass


class ProbeUnavailable(Exception):
    """spanprobe exited with an error before it was ready (e.g. BPF can't load)."""


@dataclass
class Suite:
    """What every test shares: paths, the throwaway certificate, policy."""
    binary: str
    tmp: str
    cert: str
    key: str
    require_bpf: bool

    @classmethod
    def create(cls, tmp):
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        # A fresh self-signed cert per run: nothing secret is ever checked in.
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-subj", "/CN=localhost", "-days", "1",
                        "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=60)
        return cls(binary=os.environ.get("SPANPROBE", os.path.join(REPO, "build", "spanprobe")),
                   tmp=tmp, cert=cert, key=key,
                   require_bpf=os.environ.get("SPANPROBE_REQUIRE_BPF") == "1")


def kill_group(proc):
    """SIGKILLs the process group we created for proc (start_new_session)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    else:
        # The leader is gone but children it left in the group may remain.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def read_line(stream, deadline):
    """One line from a pipe, or None if none arrives before the deadline."""
    buf = b""
    fd = stream.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1)
        if not chunk:
            return buf.decode() or None
        buf += chunk
    return buf.decode().rstrip("\n")


class Servers:
    """servers.py (or another script built on its run()) in its own
    process: pid, http_port, https_port."""

    def __init__(self, ctx, script="servers.py", what="test server"):
        self.proc = ctx.spawn([PYTHON, os.path.join(HERE, script),
                               "--cert", ctx.suite.cert, "--key", ctx.suite.key],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = read_line(self.proc.stdout, time.monotonic() + 30)
        if not line:
            raise Fail(f"{what} did not report its ports")
        info = json.loads(line)
        self.pid, self.http_port, self.https_port = info["pid"], info["http_port"], info["https_port"]

    def url(self, path, tls=True):
        scheme, port = ("https", self.https_port) if tls else ("http", self.http_port)
        return f"{scheme}://127.0.0.1:{port}{path}"


class Probe:
    """One spanprobe run. Its stderr is collected by a thread that also
    notices the ready line."""

    def __init__(self, ctx, args, name="spanprobe", env=None, output=True):
        """env: spanprobe's whole environment (default: the runner's);
        output=False: no -o FILE (self.out is then never written)."""
        self.ctx = ctx
        self.out = os.path.join(ctx.dir, f"{name}.jsonl")
        self.stdout_path = os.path.join(ctx.dir, f"{name}.stdout")
        self.stderr_lines = []
        self.ready = threading.Event()
        with open(self.stdout_path, "wb") as stdout:
            # umask 022: a 0600 output file must come from spanprobe itself.
            self.proc = ctx.spawn([ctx.suite.binary, *(["-o", self.out] if output else []), *args],
                                  stdin=subprocess.DEVNULL, stdout=stdout,
                                  stderr=subprocess.PIPE, umask=0o022, env=env)
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()
        ctx.probes.append(self)

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.stderr_lines.append(line)
            if line.startswith(READY):
                self.ready.set()

    @property
    def stderr(self):
        return "\n".join(self.stderr_lines)

    def wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.ready.wait(0.05):
            if self.proc.poll() is not None:
                self.reader.join(2)
                if self.ready.is_set():
                    return
                rc = self.proc.returncode
                if rc > 0:
                    raise ProbeUnavailable(f"spanprobe exited {rc} before ready: "
                                           f"{self.stderr.strip()[-300:]!r}")
                raise Fail(f"spanprobe exited with status {rc} before it was ready")
            if time.monotonic() > deadline:
                raise Fail(f"no {READY!r} line on stderr within {READY_TIMEOUT} s")

    def wait_stderr(self, pattern, what, timeout):
        """The first stderr line matching the regex pattern, once spanprobe
        has printed it; a failure if it exits or timeout passes first."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            gone = self.proc.poll() is not None
            if gone:
                self.reader.join(2)
            for line in list(self.stderr_lines):
                if rx.search(line):
                    return line
            if gone or time.monotonic() > deadline:
                raise Fail(f"spanprobe {'exited' if gone else 'still runs'} without printing "
                           f"{what} (a line matching {pattern!r}) within {timeout} s; "
                           f"its stderr ends: {self.stderr_lines[-5:]}")
            time.sleep(0.05)

    def wait(self, timeout):
        """Waits for spanprobe to exit on its own; returns its exit status."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(self.proc)
            raise Fail(f"spanprobe did not exit within {timeout} s")
        self.reader.join(5)
        return rc

    def stop(self, sig=signal.SIGINT):
        """Signals spanprobe (unless it already exited) and requires exit 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.wait(STOP_TIMEOUT)
        if rc != 0:
            raise Fail(f"spanprobe exited with status {rc} after {signal.Signals(sig).name}, want 0")
        return self.output()

    def output(self):
        return otlp.load(self.out)


_receiver_deps = None  # None until checked, then "" (fine) or why it failed


def ensure_receiver_deps():
    """The OTLP receiver's node_modules: `npm ci` from the checked-in
    package-lock.json when they are missing or older than the lock file;
    once per run (a failure is remembered, not retried by every test)."""
    global _receiver_deps
    if _receiver_deps is None:
        _receiver_deps = _install_receiver_deps()
    if _receiver_deps:
        raise Fail(_receiver_deps)


def _install_receiver_deps():
    return npm_ci(RECEIVER_DIR, os.path.join("@opentelemetry", "otlp-transformer", "build", "src",
                                             "generated", "root.js"), "the OTLP receiver")


def npm_ci(folder, marker, what):
    """`npm ci --ignore-scripts` in folder, from its checked-in
    package-lock.json, unless node_modules/marker exists and the install is
    newer than the lock file; "" when the modules are there, else why not."""
    lock = os.path.join(folder, "package-lock.json")
    installed = os.path.join(folder, "node_modules", ".package-lock.json")
    marker = os.path.join(folder, "node_modules", marker)
    if (os.path.exists(marker) and os.path.exists(installed)
            and os.path.getmtime(installed) >= os.path.getmtime(lock)):
        return ""
    npm = shutil.which("npm")
    if not npm:
        return (f"{what} needs its node modules ({folder}/node_modules) and "
                "npm is not installed to fetch them (apt-get install npm)")
    print(f"installing the node modules of {what}: npm ci in {folder}", flush=True)
    started = time.monotonic()
    try:
        res = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                             cwd=folder, capture_output=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"npm ci in {folder} failed: {err}"
    if res.returncode != 0 or not os.path.exists(marker):
        tail = res.stderr.decode(errors="replace").strip().splitlines()[-5:]
        return (f"npm ci in {folder} failed (exit {res.returncode}; it needs the npm "
                f"registry): {' | '.join(tail)}")
    print(f"npm ci in {folder}: {time.monotonic() - started:.1f}s", flush=True)
    return ""


class Receiver:
    """otlp_receiver/receiver.mjs in its own process: an OTLP/HTTP (or, with
    --grpc, OTLP/gRPC) endpoint on 127.0.0.1 that decodes every request with
    the official schema and appends it as one JSON line to self.out."""

    def __init__(self, ctx, *args, port=0):
        ensure_receiver_deps()
        n = len(ctx.receivers) + 1
        self.out = os.path.join(ctx.dir, f"receiver{n}.jsonl")
        self.stderr_path = os.path.join(ctx.dir, f"receiver{n}.stderr")
        self.args = list(args)
        with open(self.stderr_path, "wb") as err:
            self.proc = ctx.spawn([NODE, RECEIVER, "--port", str(port), "--out", self.out, *args],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        ctx.receivers.append(self)
        line = read_line(self.proc.stdout, time.monotonic() + 30)
        if not line:
            raise Fail(f"the OTLP receiver did not start: {self.stderr.strip()[-400:]!r}")
        self.port = json.loads(line)["port"]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def requests(self):
        """Every request received so far (complete lines only)."""
        try:
            with open(self.out, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]

    def wait_for(self, pred, what, timeout):
        """Polls the requests until pred(requests) is true; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            reqs = self.requests()
            if pred(reqs):
                return reqs
            if time.monotonic() > deadline:
                raise Fail(f"the OTLP receiver (port {self.port}) did not get {what} within "
                           f"{timeout} s ({len(reqs)} request(s) so far)")
            time.sleep(0.1)

    def stop(self):
        kill_group(self.proc)


@dataclass
class Result:
    pid: int
    rc: int
    stdout: str
    stderr: str


class Context:
    """Per-test state: a scratch directory and every process the test
    started, all ended by cleanup() whatever happened."""

    def __init__(self, suite, name):
        self.suite = suite
        self.name = name
        self.dir = os.path.join(suite.tmp, name)
        os.makedirs(self.dir)
        for script in ("client.py", "client.js"):
            shutil.copy(os.path.join(HERE, "clients", script), self.dir)
        self.procs = []
        self.probes = []
        self.receivers = []
        self.evidence = []  # spans a failing test wants shown
        self.configs = 0

    def spawn(self, argv, **kwargs):
        kwargs.setdefault("cwd", self.dir)
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def run_to_end(self, argv, timeout, what, **kwargs):
        """Runs argv (no stdin, stdout discarded) to its end; returns (exit
        status, stderr as text). Fails, naming what, if it runs past timeout."""
        proc = self.spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, **kwargs)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise Fail(f"{what} did not exit within {timeout} s")
        return proc.returncode, err.decode(errors="replace")

    def cleanup(self):
        for proc in reversed(self.procs):
            if proc.stdin:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
            kill_group(proc)
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()

    # ---- fixtures ----
    def servers(self):
        return Servers(self)

    def probe(self, *args, env=None, output=True):
        """Starts spanprobe with args and waits until it is ready."""
        probe = Probe(self, list(args), env=env, output=output)
        probe.wait_ready()
        return probe

    def receiver(self, *args, port=0):
        """Starts the OTLP test receiver (receiver.mjs arguments)."""
        return Receiver(self, *args, port=port)

    # ---- clients ----
    def config(self, requests, mode="urllib", wait=False):
        """Writes a client config file; returns its name (relative to cwd)."""
        self.configs += 1
        name = f"req{self.configs}.json"
        with open(os.path.join(self.dir, name), "w") as f:
            json.dump({"mode": mode, "wait": wait, "requests": requests}, f)
        return name

    def start_python(self, requests, mode="urllib", wait=False, env=None):
        """Starts client.py; with wait=True, returns once it is blocked on stdin."""
        proc = self.spawn([PYTHON, "client.py", self.config(requests, mode, wait)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=client_env(env))
        if wait and read_line(proc.stdout, time.monotonic() + 30) != "waiting":
            raise Fail(f"python client {proc.pid} did not get ready")
        return proc

    def finish(self, proc, go=False):
        """Waits for a started client; go=True first releases a waiting one."""
        try:
            out, err = proc.communicate(b"go\n" if go else None, timeout=CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise Fail(f"client {proc.args} did not finish within {CLIENT_TIMEOUT} s")
        return Result(proc.pid, proc.returncode, (out or b"").decode(errors="replace"),
                      (err or b"").decode(errors="replace"))

    def run(self, argv, env=None):
        """Runs a client program to completion."""
        return self.finish(self.spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=client_env(env)))

    def run_python(self, requests, mode="urllib", env=None):
        return self.finish(self.start_python(requests, mode, env=env))

    def run_node(self, requests, env=None):
        return self.run([NODE, "client.js", self.config(requests)], env)


def client_env(extra):
    env = {k: v for k, v in os.environ.items()
           # a service name inherited from the runner's env would leak into
           # every client's resource and hide the executable-name default
           if k != "OTEL_SERVICE_NAME"}
    env.update(extra or {})
    return env


def request(url, method="GET", body=None, headers=None):
    return {"method": method, "url": url, "body": body, "headers": headers or {}}


def statuses(result):
    """The statuses a client printed; fails the test if it did not work."""
    if result.rc != 0:
        raise Fail(f"client pid {result.pid} exited {result.rc}: {result.stderr.strip()[-400:]}")
    try:
        return [r["status"] for r in json.loads(result.stdout.strip().splitlines()[-1])]
    except (ValueError, IndexError, KeyError) as err:
        raise Fail(f"client pid {result.pid} printed no results ({err}): {result.stdout!r}")
