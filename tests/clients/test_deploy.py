"""The container packaging, checked as far as it can be without pulling images: the compose file
parses, every ISARTOR__ variable it sets is a documented setting, every file it mounts exists,
and the Prometheus configuration it mounts (with the alert rules from assets/) passes
`promtool check config`. The Dockerfile runs the binary as a non-root user with a health check
on /healthz."""

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from conftest import ROOT

DEPLOY = ROOT / "deploy"


def compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_sets_only_documented_settings():
    documented = set(re.findall(r"`(ISARTOR__[A-Z0-9_]+)`", (ROOT / "docs" / "configuration.md").read_text()))
    services = compose()["services"]
    replicas = [s for name, s in services.items() if name.startswith("isartor")]
    assert len(replicas) == 2
    for service in replicas:
        env = service["environment"]
        assert env["ISARTOR__CACHE_BACKEND"] == "redis"
        assert env["ISARTOR__HOST_PORT"] == "0.0.0.0:8080"
        assert "ISARTOR__GATEWAY_API_KEY" in env, "a replica beyond loopback needs a gateway key"
        for name in env:
            if name.startswith("ISARTOR__"):
                assert name in documented, f"{name} is not in docs/configuration.md"


def test_every_mounted_file_exists():
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("."):
                assert (DEPLOY / host).exists(), f"{name} mounts {host}, which does not exist"


def test_the_mounted_prometheus_config_passes_promtool(tmp_path):
    assert shutil.which("promtool"), "promtool comes with Debian's prometheus package"
    mounts = {}
    for volume in compose()["services"]["prometheus"]["volumes"]:
        host, inside = volume.split(":")[:2]
        mounts[inside] = str((DEPLOY / host).resolve())
    secret = tmp_path / "gateway-key"
    secret.write_text("test-key")
    mounts["/run/secrets/gateway-key"] = str(secret)
    config = Path(mounts.pop("/etc/prometheus/prometheus.yml")).read_text()
    for inside, host in mounts.items():
        config = config.replace(inside, host)
    (tmp_path / "prometheus.yml").write_text(config)
    run = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout + run.stderr


def test_the_image_runs_the_binary_as_a_user_with_a_health_check():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER isartor$", dockerfile, re.M)
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "ISARTOR__HOST_PORT=0.0.0.0:8080" in dockerfile
