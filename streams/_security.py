"""Kafka and Redis security settings, mapped for each client library, and a Redis preflight.

Every Kafka client (kafka-python, aiokafka, Faust) gets the same protocol, SASL mechanism,
credentials and CA from one :class:`~schemas.Settings`; Redis gets its ACL user, password
and TLS files from the same object. Secrets stay in ``SecretStr`` until the moment a client
needs them, and nothing here logs or raises with a secret value in it: use
:func:`redacted` before logging a client configuration, and :func:`redis_display_url`
before naming a Redis server.

Faust needs care: ``faust.SASLCredentials`` without an ``ssl_context`` quietly speaks
``SASL_PLAINTEXT``, whatever the broker expects. :func:`faust_credentials` always passes
the context for ``SASL_SSL`` and checks the protocol Faust will actually use.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import redis

from schemas import Settings

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

#: Configuration keys whose values :func:`redacted` hides.
SECRET_KEYS = ("password", "secret", "token", "credentials")
_MASK = "**********"


class SecurityConfigError(ValueError):
    """The security settings are incomplete or contradict each other."""


class RedisCheckError(ConnectionError):
    """Redis cannot be used with these settings (unreachable, wrong credentials, no access)."""


class RedisUnreachable(RedisCheckError):
    """Nothing answers at the Redis address (as opposed to refusing us)."""


# --- Kafka -------------------------------------------------------------------------------


def _check_kafka(settings: Settings) -> None:
    protocol = settings.security_protocol
    if protocol.startswith("SASL"):
        missing = [
            name
            for name, value in (
                ("STREAMTUNE_SASL_MECHANISM", settings.sasl_mechanism),
                ("STREAMTUNE_SASL_USERNAME", settings.sasl_username),
                ("STREAMTUNE_SASL_PASSWORD", settings.sasl_password),
            )
            if value is None
        ]
        if missing:
            raise SecurityConfigError(
                f"security_protocol {protocol} needs {', '.join(missing)} "
                "(or the matching *_FILE variable)"
            )
    elif settings.sasl_mechanism or settings.sasl_username or settings.sasl_password:
        raise SecurityConfigError(
            f"SASL settings are set but security_protocol is {protocol}; "
            "use SASL_SSL (or SASL_PLAINTEXT) so they are used"
        )
    if settings.ssl_keyfile and not settings.ssl_certfile:
        raise SecurityConfigError("STREAMTUNE_SSL_KEYFILE is set without STREAMTUNE_SSL_CERTFILE")


def _sasl_password(settings: Settings) -> str | None:
    return settings.sasl_password.get_secret_value() if settings.sasl_password else None


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """Build a verifying TLS context for SSL/SASL_SSL; ``None`` for plaintext protocols.

    Without ``ssl_cafile`` the system CAs verify the broker.
    """
    if settings.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    ctx = ssl.create_default_context(cafile=settings.ssl_cafile)
    if settings.ssl_certfile:
        ctx.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
    return ctx


def kafka_python_security(settings: Settings) -> dict[str, Any]:
    """Security keyword arguments for kafka-python clients.

    Raises
    ------
    SecurityConfigError
        When SASL is asked for without mechanism, user or password, or the reverse.

    Examples
    --------
    >>> kafka_python_security(Settings())
    {'security_protocol': 'PLAINTEXT'}
    """
    _check_kafka(settings)
    out: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        out["ssl_cafile"] = settings.ssl_cafile
        out["ssl_certfile"] = settings.ssl_certfile
        out["ssl_keyfile"] = settings.ssl_keyfile
        out["ssl_check_hostname"] = True
    if settings.security_protocol.startswith("SASL"):
        out["sasl_mechanism"] = settings.sasl_mechanism
        out["sasl_plain_username"] = settings.sasl_username
        out["sasl_plain_password"] = _sasl_password(settings)
    return out


def aiokafka_security(settings: Settings) -> dict[str, Any]:
    """Security keyword arguments for aiokafka clients.

    Examples
    --------
    >>> aiokafka_security(Settings())
    {'security_protocol': 'PLAINTEXT'}
    """
    _check_kafka(settings)
    out: dict[str, Any] = {"security_protocol": settings.security_protocol}
    ctx = ssl_context(settings)
    if ctx is not None:
        out["ssl_context"] = ctx
    if settings.security_protocol.startswith("SASL"):
        out["sasl_mechanism"] = settings.sasl_mechanism
        out["sasl_plain_username"] = settings.sasl_username
        out["sasl_plain_password"] = _sasl_password(settings)
    return out


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """``broker_credentials`` for ``faust.App``; ``None`` for PLAINTEXT.

    Raises
    ------
    SecurityConfigError
        If Faust would connect with another protocol than ``security_protocol`` (its
        silent SASL_SSL to SASL_PLAINTEXT fallback), or the settings are incomplete.

    Examples
    --------
    >>> faust_credentials(Settings()) is None
    True
    """
    # Imported here: Faust is heavy, and only Faust processes should pay for it.
    import faust
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    _check_kafka(settings)
    protocol = settings.security_protocol
    ctx = ssl_context(settings)
    creds: CredentialsT | None
    if protocol == "PLAINTEXT":
        creds = None
    elif protocol == "SSL":
        creds = faust.SSLCredentials(ctx)
    else:
        creds = faust.SASLCredentials(
            username=settings.sasl_username,
            password=_sasl_password(settings),
            mechanism=settings.sasl_mechanism,
            ssl_context=ctx,
        )
    # Ask Faust's own mapping what aiokafka will receive: this is the check that fails
    # if a Faust release changes how it derives the protocol.
    effective = credentials_to_aiokafka_auth(creds, None)
    if effective["security_protocol"] != protocol or (
        protocol in ("SSL", "SASL_SSL") and effective.get("ssl_context") is None
    ):
        raise SecurityConfigError(
            f"Faust would connect with {effective['security_protocol']} instead of {protocol}; "
            "refusing to fall back to an unencrypted connection"
        )
    return creds


def describe_kafka_security(settings: Settings) -> str:
    """One log-safe line: protocol, mechanism, user and CA file, never the password.

    Examples
    --------
    >>> describe_kafka_security(Settings())
    'kafka security: PLAINTEXT'
    """
    parts = [f"kafka security: {settings.security_protocol}"]
    if settings.sasl_mechanism:
        parts.append(f"mechanism={settings.sasl_mechanism}")
    if settings.sasl_username:
        parts.append(f"user={settings.sasl_username}")
    if settings.ssl_cafile:
        parts.append(f"cafile={settings.ssl_cafile}")
    return " ".join(parts)


def redacted(config: Mapping[str, Any]) -> dict[str, Any]:
    """Copy a client configuration so that it is safe to log: secret values masked.

    Examples
    --------
    >>> redacted({"sasl_plain_username": "svc", "sasl_plain_password": "hunter2"})
    {'sasl_plain_username': 'svc', 'sasl_plain_password': '**********'}
    """
    out: dict[str, Any] = {}
    for key, value in config.items():
        secret = any(word in key.lower() for word in SECRET_KEYS)
        if secret and value is not None:
            out[key] = _MASK
        elif key.lower().endswith("url") and isinstance(value, str):
            out[key] = _strip_userinfo(value)
        else:
            out[key] = value
    return out


# --- Redis -------------------------------------------------------------------------------


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname is None or "@" not in parts.netloc:
        return url
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redis_display_url(settings: Settings) -> str:
    """``redis_url`` without user and password, for logs and error messages.

    Examples
    --------
    >>> redis_display_url(Settings(redis_url="rediss://app:s3cret@cache:6380/1"))
    'rediss://cache:6380/1'
    """
    return _strip_userinfo(settings.redis_url.get_secret_value())


def redis_security(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``redis.Redis.from_url(settings.redis_url, ...)``.

    ``redis_username``/``redis_password`` win over credentials in the URL. TLS is on for a
    ``rediss://`` URL; TLS files with a plain ``redis://`` URL are a configuration error
    rather than a silently unencrypted connection.

    Examples
    --------
    >>> redis_security(Settings())
    {}
    >>> tls = Settings(redis_url="rediss://cache:6380/0", redis_ssl_cafile="ca.pem")
    >>> sorted(redis_security(tls))
    ['ssl_ca_certs', 'ssl_cert_reqs', 'ssl_check_hostname']
    """
    out: dict[str, Any] = {}
    if settings.redis_username is not None:
        out["username"] = settings.redis_username
    if settings.redis_password is not None:
        out["password"] = settings.redis_password.get_secret_value()
    tls_files = {
        "ssl_ca_certs": settings.redis_ssl_cafile,
        "ssl_certfile": settings.redis_ssl_certfile,
        "ssl_keyfile": settings.redis_ssl_keyfile,
    }
    tls = urlsplit(settings.redis_url.get_secret_value()).scheme == "rediss"
    if not tls:
        if any(tls_files.values()):
            raise SecurityConfigError(
                "STREAMTUNE_REDIS_SSL_* files are set but STREAMTUNE_REDIS_URL is not rediss://"
            )
        return out
    if settings.redis_ssl_keyfile and not settings.redis_ssl_certfile:
        raise SecurityConfigError(
            "STREAMTUNE_REDIS_SSL_KEYFILE is set without STREAMTUNE_REDIS_SSL_CERTFILE"
        )
    out.update({key: value for key, value in tls_files.items() if value})
    out["ssl_cert_reqs"] = "required"
    out["ssl_check_hostname"] = True
    return out


def _secrets(settings: Settings) -> list[str]:
    url = urlsplit(settings.redis_url.get_secret_value())
    values = [url.password, settings.redis_password, settings.sasl_password]
    return [
        v.get_secret_value() if hasattr(v, "get_secret_value") else str(v)
        for v in values
        if v is not None and str(v) != ""
    ]


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, _MASK)
    return text


def check_redis(settings: Settings, *, timeout_s: float = 3.0) -> None:
    """Connect, authenticate and write one probe key, before anything else starts.

    The probe (``SET`` with a short expiry, then ``DEL``, under ``redis_prefix``) proves
    the ACL user may write where streamtune writes, not only that ``PING`` answers.

    Raises
    ------
    RedisCheckError
        With the server (no credentials), the user and what went wrong; never a secret.
    SecurityConfigError
        If the TLS settings contradict the URL.
    """
    where = redis_display_url(settings)
    user = settings.redis_username or urlsplit(settings.redis_url.get_secret_value()).username
    who = f"user {user!r}" if user else "the default user"
    client = redis.Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        **redis_security(settings),
    )
    probe = f"{settings.redis_prefix}preflight:{uuid.uuid4().hex}"
    try:
        client.ping()
        client.set(probe, b"1", ex=30)
        client.delete(probe)
    except redis.AuthenticationError as exc:
        raise RedisCheckError(
            f"Redis at {where} refused {who}: wrong or missing password "
            f"({_scrub(str(exc), _secrets(settings))}); set STREAMTUNE_REDIS_PASSWORD_FILE "
            "(or STREAMTUNE_REDIS_PASSWORD) and STREAMTUNE_REDIS_USERNAME"
        ) from None
    except redis.exceptions.NoPermissionError as exc:
        raise RedisCheckError(
            f"Redis at {where}: {who} may not write keys under {settings.redis_prefix!r} "
            f"({_scrub(str(exc), _secrets(settings))}); grant it in the ACL"
        ) from None
    except redis.ConnectionError as exc:
        raise RedisUnreachable(
            f"cannot reach Redis at {where}: {_scrub(str(exc), _secrets(settings))}"
        ) from None
    except redis.ResponseError as exc:
        raise RedisCheckError(
            f"Redis at {where} rejected the preflight as {who}: "
            f"{_scrub(str(exc), _secrets(settings))}"
        ) from None
    finally:
        client.close()
