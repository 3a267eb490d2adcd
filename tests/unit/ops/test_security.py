"""streams._security: every client gets TLS + SCRAM when configured; no secret leaks."""

from __future__ import annotations

import inspect
import logging
import ssl
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from schemas import Settings, SettingsError
from streams import _security
from streams._security import (
    SecurityConfigError,
    aiokafka_security,
    describe_kafka_security,
    faust_credentials,
    kafka_python_security,
    redacted,
    redis_display_url,
    redis_security,
)

SASL_PASSWORD = "sasl-Hq4-secret-7713"
REDIS_PASSWORD = "redis-Wb8-secret-0452"
URL_PASSWORD = "url-Tc1-secret-3390"
SECRETS = (SASL_PASSWORD, REDIS_PASSWORD, URL_PASSWORD)


@pytest.fixture
def secure(ca_file: Path) -> Settings:
    return Settings.from_env(
        {
            "STREAMTUNE_BOOTSTRAP_SERVERS": "kafka-1:9093",
            "STREAMTUNE_SECURITY_PROTOCOL": "SASL_SSL",
            "STREAMTUNE_SASL_MECHANISM": "SCRAM-SHA-512",
            "STREAMTUNE_SASL_USERNAME": "svc-streamtune",
            "STREAMTUNE_SASL_PASSWORD": SASL_PASSWORD,
            "STREAMTUNE_SSL_CAFILE": str(ca_file),
            "STREAMTUNE_REDIS_URL": f"rediss://app:{URL_PASSWORD}@cache:6380/0",
            "STREAMTUNE_REDIS_USERNAME": "streamtune",
            "STREAMTUNE_REDIS_PASSWORD": REDIS_PASSWORD,
            "STREAMTUNE_REDIS_SSL_CAFILE": str(ca_file),
        }
    )


def _assert_context_trusts_only(ctx: Any, ca_file: Path) -> None:
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname
    subjects = [str(c["subject"]) for c in ctx.get_ca_certs()]
    assert len(subjects) == 1, ca_file
    assert "('commonName', 'streamtune-test-ca')" in subjects[0]


def _assert_scram(kwargs: dict[str, Any]) -> None:
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "svc-streamtune"
    assert kwargs["sasl_plain_password"] == SASL_PASSWORD


# --- every client gets TLS and SCRAM ------------------------------------------------------


def test_kafka_python(secure: Settings, ca_file: Path) -> None:
    kwargs = kafka_python_security(secure)
    _assert_scram(kwargs)
    assert kwargs["ssl_cafile"] == str(ca_file)
    assert kwargs["ssl_check_hostname"] is True
    for client in (KafkaProducer, KafkaConsumer, KafkaAdminClient):
        assert set(kwargs) <= set(client.DEFAULT_CONFIG), client  # a typo would be ignored


def test_aiokafka(secure: Settings, ca_file: Path) -> None:
    kwargs = aiokafka_security(secure)
    _assert_scram(kwargs)
    _assert_context_trusts_only(kwargs["ssl_context"], ca_file)
    for client in (AIOKafkaProducer, AIOKafkaConsumer):
        assert set(kwargs) <= set(inspect.signature(client.__init__).parameters), client


def test_faust_app_gets_sasl_ssl(secure: Settings, ca_file: Path) -> None:
    app = faust.App(
        "sec-test", broker="kafka://kafka-1:9093", broker_credentials=faust_credentials(secure)
    )
    # What Faust's aiokafka driver hands to every consumer and producer it makes.
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
    _assert_scram(dict(auth))
    _assert_context_trusts_only(auth["ssl_context"], ca_file)


def test_faust_plain_ssl(ca_file: Path) -> None:
    s = Settings(security_protocol="SSL", ssl_cafile=str(ca_file))
    auth = credentials_to_aiokafka_auth(faust_credentials(s), None)
    assert auth["security_protocol"] == "SSL"
    _assert_context_trusts_only(auth["ssl_context"], ca_file)


def test_faust_plaintext() -> None:
    assert faust_credentials(Settings()) is None


def test_faust_silent_fallback_is_what_we_guard_against() -> None:
    # The trap itself: no ssl_context, and Faust quietly speaks SASL_PLAINTEXT.
    creds = faust.SASLCredentials(username="u", password="p", mechanism="SCRAM-SHA-512")
    assert credentials_to_aiokafka_auth(creds, None)["security_protocol"] == "SASL_PLAINTEXT"


def test_faust_fallback_raises_instead_of_degrading(
    secure: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_security, "ssl_context", lambda _settings: None)
    with pytest.raises(SecurityConfigError, match="instead of SASL_SSL") as info:
        faust_credentials(secure)
    assert SASL_PASSWORD not in str(info.value)


def test_faust_fallback_raises_if_faust_drops_the_context(
    secure: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ForgetfulCredentials(faust.SASLCredentials):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.pop("ssl_context")
            super().__init__(**kwargs)

    monkeypatch.setattr(faust, "SASLCredentials", ForgetfulCredentials)
    with pytest.raises(SecurityConfigError, match="refusing to fall back"):
        faust_credentials(secure)


def test_sasl_plaintext_stays_what_was_asked() -> None:
    s = Settings(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
        sasl_username="u", sasl_password=SASL_PASSWORD,  # type: ignore[arg-type]
    )  # fmt: skip
    auth = credentials_to_aiokafka_auth(faust_credentials(s), None)
    assert auth["security_protocol"] == "SASL_PLAINTEXT"
    assert "ssl_context" not in aiokafka_security(s)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"security_protocol": "SASL_SSL", "sasl_username": "u"}, "STREAMTUNE_SASL_MECHANISM"),
        (
            {
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_username": "u",
            },
            "STREAMTUNE_SASL_PASSWORD",
        ),
        ({"sasl_mechanism": "SCRAM-SHA-512"}, "security_protocol is PLAINTEXT"),
        ({"security_protocol": "SSL", "ssl_keyfile": "k.pem"}, "without STREAMTUNE_SSL_CERTFILE"),
    ],
)
def test_incomplete_kafka_security_is_refused(overrides: dict[str, Any], message: str) -> None:
    s = Settings(**overrides)
    for mapping in (kafka_python_security, aiokafka_security, faust_credentials):
        with pytest.raises(SecurityConfigError, match=message):
            mapping(s)


# --- Redis ----------------------------------------------------------------------------------


def test_redis_acl_user_password_and_tls(secure: Settings, ca_file: Path) -> None:
    assert redis_security(secure) == {
        "username": "streamtune",
        "password": REDIS_PASSWORD,
        "ssl_ca_certs": str(ca_file),
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
    }


def test_redis_tls_files_without_rediss_url_are_refused(ca_file: Path) -> None:
    s = Settings(redis_url="redis://cache:6379/0", redis_ssl_cafile=str(ca_file))  # type: ignore[arg-type]
    with pytest.raises(SecurityConfigError, match="not rediss://"):
        redis_security(s)


def test_redis_display_url_drops_credentials(secure: Settings) -> None:
    assert redis_display_url(secure) == "rediss://cache:6380/0"
    ipv6 = Settings(redis_url=f"redis://:{URL_PASSWORD}@[::1]:6379/2")  # type: ignore[arg-type]
    assert redis_display_url(ipv6) == "redis://[::1]:6379/2"


# --- no secret in any repr, log line or error -------------------------------------------


def _no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_settings_repr_and_str_hide_secrets(secure: Settings) -> None:
    _no_secret(repr(secure))
    _no_secret(str(secure))
    _no_secret(repr(secure.model_dump()))
    _no_secret(describe_kafka_security(secure))


def test_settings_errors_hide_secrets(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text(SASL_PASSWORD, encoding="utf-8")
    bad = {
        "STREAMTUNE_SASL_PASSWORD_FILE": str(secret_file),
        "STREAMTUNE_REDIS_PASSWORD": REDIS_PASSWORD,
        # Secrets pasted into the wrong (validated) variables: the error must not echo them.
        "STREAMTUNE_SECURITY_PROTOCOL": URL_PASSWORD,
        "STREAMTUNE_PARTITIONS": SASL_PASSWORD,
        "STREAMTUNE_SASL_MECHANISM": REDIS_PASSWORD,
    }
    with pytest.raises(SettingsError) as info:
        Settings.from_env(bad)
    assert "security_protocol" in str(info.value)
    _no_secret(str(info.value))
    _no_secret(repr(info.value))


def test_security_errors_hide_secrets() -> None:
    s = Settings(security_protocol="SASL_SSL", sasl_password=SASL_PASSWORD)  # type: ignore[arg-type]
    with pytest.raises(SecurityConfigError) as info:
        kafka_python_security(s)
    _no_secret(str(info.value))


def test_logged_client_configs_hide_secrets(
    secure: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("streamtune.test")
    with caplog.at_level(logging.DEBUG):
        log.info("kafka-python config %s", redacted(kafka_python_security(secure)))
        log.info("aiokafka config %s", redacted(aiokafka_security(secure)))
        log.info("faust credentials %r", faust_credentials(secure))
        log.info("redis config %s", redacted(redis_security(secure)))
        log.info("redis at %s", redis_display_url(secure))
        log.info("%s", describe_kafka_security(secure))
        log.info("redacted url %s", redacted({"redis_url": secure.redis_url.get_secret_value()}))
    assert len(caplog.records) == 7
    assert "SCRAM-SHA-512" in caplog.text
    assert "svc-streamtune" in caplog.text
    _no_secret(caplog.text)


def test_redacted_leaves_other_values_alone() -> None:
    cfg = {"sasl_plain_password": None, "client_id": "x", "oauth_token": "t"}
    assert redacted(cfg) == {
        "sasl_plain_password": None,
        "client_id": "x",
        "oauth_token": "**********",
    }
