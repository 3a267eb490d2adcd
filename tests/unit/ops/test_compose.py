"""Static checks of docker-compose.yml and its GPU override: no Docker engine needed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from schemas import Settings
from streams._security import kafka_python_security, redis_security
from streams.cli import SUBCOMMANDS, build_parser
from tests.unit.ops.conftest import OPS, ROOT, interpolate, load_yaml

SCHEMA = json.loads((ROOT / "tests" / "vendor" / "compose-spec.json").read_text("utf-8"))
#: Services that run the streamtune image (the others run third-party images).
STREAMTUNE_SERVICES = ("worker", "serve")
#: Variables a streamtune container may set besides settings: they configure libraries.
LIBRARY_ENV = frozenset({"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "PYTHONUNBUFFERED"})
METRICS_PORT = 9400


def _validate(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_schema_is_the_compose_specification() -> None:
    assert SCHEMA["title"] == "Compose Specification"
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_compose_file_is_valid(compose: dict[str, Any]) -> None:
    assert _validate(compose) == []


def test_gpu_override_is_valid() -> None:
    assert _validate(interpolate(load_yaml(OPS / "compose.gpu.yml"))) == []


def test_the_schema_catches_mistakes(compose: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["serve"]["deploy"]["replicas"] = "two"
    broken["services"]["worker"]["restart_policy"] = "always"
    assert len(_validate(broken)) == 2


def test_expected_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "kafka", "kafka-init", "redis", "worker", "serve", "prometheus", "grafana",
    }  # fmt: skip


@pytest.mark.parametrize("service", STREAMTUNE_SERVICES)
def test_command_is_a_real_subcommand(compose: dict[str, Any], service: str) -> None:
    command = compose["services"][service]["command"]
    assert command[0] in SUBCOMMANDS
    args = build_parser().parse_args(command)  # exits (SystemExit) on an unknown command
    assert callable(args.func)


def test_dockerfile_entrypoint_is_streamtune() -> None:
    text = (ROOT / "Dockerfile").read_text("utf-8")
    assert re.search(r'^ENTRYPOINT \["streamtune"\]$', text, re.M)
    default = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert default is not None
    assert json.loads(default.group(1))[0] in SUBCOMMANDS


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "use the mapping form of environment"
    return {k: str(v) for k, v in env.items()}


def _check_names(env: dict[str, str]) -> list[str]:
    known = set(Settings.env_names())
    return [
        name
        for name in env
        if name.startswith("STREAMTUNE_")
        and name not in known
        and name.removesuffix("_FILE") not in known
    ]


def test_every_streamtune_variable_is_a_setting(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert _check_names(_env(service)) == [], name
    override = interpolate(load_yaml(OPS / "compose.gpu.yml"))
    assert _check_names(_env(override["services"]["worker"])) == []


def test_a_typo_would_be_caught() -> None:
    assert _check_names({"STREAMTUNE_PARTITONS": "3", "STREAMTUNE_REDIS_PASSWORD_FILE": "/x"}) == [
        "STREAMTUNE_PARTITONS"
    ]


@pytest.mark.parametrize("service", STREAMTUNE_SERVICES)
def test_streamtune_env_parses_into_settings(
    compose: dict[str, Any], service: str, tmp_path: Path
) -> None:
    env = _env(compose["services"][service])
    assert set(env) - LIBRARY_ENV <= {n for n in env if n.startswith("STREAMTUNE_")}
    mounted = {f"/run/secrets/{s}" for s in compose["services"][service].get("secrets", [])}
    for name, value in list(env.items()):
        if name.endswith("_FILE"):
            assert value in mounted, f"{name} points at {value}, which is not a mounted secret"
            fake = tmp_path / Path(value).name
            fake.write_text("not-the-real-secret\n", encoding="utf-8")
            env[name] = str(fake)
    settings = Settings.from_env(env)
    assert settings.metrics_port == METRICS_PORT
    assert settings.metrics_host == "0.0.0.0"
    assert settings.redis_password is not None
    assert redis_security(settings)["username"] == "streamtune"
    assert kafka_python_security(settings)["security_protocol"] == "PLAINTEXT"


def test_serve_scales(compose: dict[str, Any]) -> None:
    serve = compose["services"]["serve"]
    # --scale serve=N fails on a fixed name or a host port; metrics are only exposed in-network.
    assert "container_name" not in serve
    assert "ports" not in serve
    assert str(METRICS_PORT) in [str(p) for p in serve["expose"]]
    assert serve["deploy"]["replicas"] >= 2


def test_one_worker(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker.get("deploy", {}).get("replicas", 1) == 1
    assert "gpu" not in json.dumps(worker)


def test_gpu_override_reserves_a_gpu_for_the_worker_only() -> None:
    override = load_yaml(OPS / "compose.gpu.yml")
    assert set(override["services"]) == {"worker"}
    worker = override["services"]["worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert worker["build"]["args"]["VARIANT"] == "cuda"
    assert worker["environment"]["STREAMTUNE_DEVICE"] == "cuda"


def test_host_ports_bind_loopback_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"


def test_secrets_exist_in_make_secrets(compose: dict[str, Any]) -> None:
    script = (OPS / "make-secrets.sh").read_text("utf-8")
    for name, secret in compose["secrets"].items():
        assert secret["file"] == f"./ops/secrets/{name}.txt"
        assert name in script
    used = {s for svc in compose["services"].values() for s in svc.get("secrets", [])}
    assert used == set(compose["secrets"])


def test_bind_mounts_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name} uses undeclared volume {source}"


def test_kafka_is_kraft_without_auto_topics(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    init = compose["services"]["kafka-init"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    for service in STREAMTUNE_SERVICES:
        deps = compose["services"][service]["depends_on"]
        assert deps["kafka-init"]["condition"] == "service_completed_successfully"
        assert deps["redis"]["condition"] == "service_healthy"


def test_topic_settings_agree_between_init_and_services(compose: dict[str, Any]) -> None:
    init = _env(compose["services"]["kafka-init"])
    for service in STREAMTUNE_SERVICES:
        env = _env(compose["services"][service])
        for name in init:
            assert env[name] == init[name], (service, name)


def test_redis_has_persistence_password_and_acl(compose: dict[str, Any]) -> None:
    conf = (OPS / "redis" / "redis.conf").read_text("utf-8")
    assert re.search(r"^appendonly yes$", conf, re.M)
    start = (OPS / "redis" / "start.sh").read_text("utf-8")
    acl = re.search(r"user streamtune on >\$\{app\} ~(\S+)\*", start)
    assert acl is not None
    # The app user may write exactly where the services keep their keys.
    prefix = _env(compose["services"]["serve"])["STREAMTUNE_REDIS_PREFIX"]
    assert prefix == acl.group(1)
    assert "user default on >${admin}" in start
    assert "-@dangerous" in start


def test_prometheus_scrapes_every_streamtune_service(compose: dict[str, Any]) -> None:
    prom = load_yaml(OPS / "prometheus" / "prometheus.yml")
    targets = {
        sd["names"][0]: sd["port"]
        for job in prom["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
    }
    assert targets == dict.fromkeys(STREAMTUNE_SERVICES, METRICS_PORT)
    jobs = {job["job_name"] for job in prom["scrape_configs"]}
    assert {f"streamtune-{s}" for s in STREAMTUNE_SERVICES} <= jobs
    assert compose["services"]["prometheus"]["volumes"][0].startswith("./ops/prometheus/")
