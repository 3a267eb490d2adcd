"""The embedded stack behind ``streamtune up``: broker, Redis, and supervised processes.

Children are started as ``python -m streams.cli <command>`` with the stack's addresses
in their environment, restarted if they die unexpectedly, and stopped in reverse order.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from schemas import Settings
from streams._broker import EmbeddedBroker
from streams._clients import ensure_topics
from streams._process import python_env, spawn, stop
from streams._redis_server import EmbeddedRedis
from streams._security import RedisUnreachable, check_redis

log = logging.getLogger(__name__)


@dataclass
class Child:
    """A supervised child process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: str
    proc: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        """(Re)start the process."""
        self.proc = spawn(self.argv, env=self.env, log_path=self.log_path)


class Stack:
    """Broker (embedded or external), Redis (given or embedded) and child processes."""

    def __init__(
        self,
        settings: Settings,
        *,
        external_broker: bool = False,
        log_dir: str | None = None,
    ) -> None:
        self.base = settings
        self.external_broker = external_broker
        self.log_dir = log_dir or tempfile.mkdtemp(prefix="streamtune-")
        self.broker: EmbeddedBroker | None = None
        self.redis: EmbeddedRedis | None = None
        self.children: list[Child] = []
        self.settings = settings

    def start(self) -> Settings:
        """Start the broker and Redis as needed, create topics; returns effective settings.

        If anything fails, what was started is stopped again before the error propagates.
        """
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> Settings:
        overrides: dict[str, str] = {}
        # Redis first: a wrong password must fail before anything has started.
        try:
            check_redis(self.base)
        except RedisUnreachable:
            log.info("no Redis answers at the configured URL; starting an embedded one")
            self.redis = EmbeddedRedis(self.base.embedded_host, log_dir=self.log_dir)
            overrides["redis_url"] = self.redis.start()
        if not self.external_broker:
            self.broker = EmbeddedBroker(
                self.base.embedded_host, self.base.broker_port, log_dir=self.log_dir
            )
            overrides["bootstrap_servers"] = self.broker.start()
        self.settings = self.base.with_overrides(**overrides)
        created = ensure_topics(self.settings)
        log.info("topics ready (%d created)", len(created))
        return self.settings

    def child_env(self) -> dict[str, str]:
        """The environment children get: the stack's effective settings over this one."""
        # Every setting the stack was given (not only what the environment said) reaches
        # the children, so a program that overrides settings gets consistent children.
        env = self.settings.to_env()
        env["STREAMTUNE_BOOTSTRAP_SERVERS"] = self.settings.bootstrap_servers
        env["STREAMTUNE_REDIS_URL"] = self.settings.redis_url.get_secret_value()
        env["HF_HUB_OFFLINE"] = "1"
        return python_env(env)

    def add(self, name: str, command: list[str], extra_env: dict[str, str] | None = None) -> Child:
        """Start ``streamtune <command>`` as a supervised child."""
        env = self.child_env()
        env.update(extra_env or {})
        child = Child(
            name=name,
            argv=[sys.executable, "-m", "streams.cli", *command],
            env=env,
            log_path=f"{self.log_dir}/{name}.log",
        )
        child.start()
        self.children.append(child)
        return child

    def supervise_once(self, max_restarts_per_min: int = 5) -> list[str]:
        """Restart children that exited; returns the names restarted."""
        restarted = []
        now = time.monotonic()
        for child in self.children:
            if child.proc is None or child.proc.poll() is None:
                continue
            child.restarts = [t for t in child.restarts if now - t < 60]
            if len(child.restarts) >= max_restarts_per_min:
                raise RuntimeError(
                    f"{child.name} exited {len(child.restarts)} times within a minute; "
                    f"see {child.log_path}"
                )
            log.warning(
                "%s exited with %s; restarting (log: %s)",
                child.name,
                child.proc.returncode,
                child.log_path,
            )
            child.restarts.append(now)
            child.start()
            restarted.append(child.name)
        return restarted

    def stop(self) -> None:
        """Stop children (newest first), then Redis, then the broker."""
        for child in reversed(self.children):
            if child.proc is not None:
                stop(child.proc)
        self.children.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
