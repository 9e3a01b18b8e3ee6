"""install.sh against a local release server the test starts (the GitHub release API's
`releases/latest` JSON, a release archive of the real binary and its SHA256SUMS): it installs
the latest or a chosen release, refuses a bad checksum without touching the installed binary, and
says clearly when the server cannot be reached. shellcheck must find nothing in it."""

import hashlib
import http.server
import io
import json
import os
import platform
import shutil
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from conftest import ROOT, isartor_bin

SCRIPT = ROOT / "install.sh"
REPO = "isartor-dev/isartor"


def target():
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64",
            "arm64": "aarch64"}[platform.machine().lower()]
    return f"{arch}-unknown-linux-gnu"


@pytest.fixture()
def releases(tmp_path):
    """Serves tmp_path/site over HTTP on loopback; yields (base URL, site dir)."""
    site = tmp_path / "site"
    site.mkdir()
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", site
    server.shutdown()


def publish(site, tag, binary, corrupt=False):
    """A release: the archive with the binary at its root, and SHA256SUMS."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        tar.add(binary, arcname="isartor")
    archive = f"isartor-{tag}-{target()}.tar.gz"
    folder = site / "download" / tag
    folder.mkdir(parents=True)
    (folder / archive).write_bytes(data.getvalue())
    digest = hashlib.sha256(data.getvalue() + (b"x" if corrupt else b"")).hexdigest()
    (folder / "SHA256SUMS").write_text(f"{digest}  {archive}\n")
    latest = site / "api" / "repos" / REPO / "releases"
    latest.mkdir(parents=True, exist_ok=True)
    (latest / "latest").write_text(json.dumps({"tag_name": tag, "name": tag}))


def stub(tmp_path, version):
    """A stand-in binary for the tests about the installer's own decisions (the real one is
    installed by the first test)."""
    path = tmp_path / f"isartor-{version}"
    path.write_text(f"#!/bin/sh\necho isartor {version}\n")
    path.chmod(0o755)
    return path


def install(base, tmp_path, **env):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    full = {"PATH": os.environ["PATH"], "HOME": str(home),
            "ISARTOR_DOWNLOAD_BASE": f"{base}/download", "ISARTOR_API_BASE": f"{base}/api"}
    full.update(env)
    return subprocess.run(["sh", str(SCRIPT)], env=full, capture_output=True, text=True,
                          timeout=60)


def test_shellcheck_finds_nothing():
    assert shutil.which("shellcheck"), "shellcheck is installed (.ci/run installs it)"
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_installs_the_latest_release_into_local_bin(releases, tmp_path):
    base, site = releases
    publish(site, "v9.9.9", isartor_bin())
    result = install(base, tmp_path)
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "home" / ".local" / "bin" / "isartor"
    version = subprocess.run([str(installed), "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("isartor ")
    assert f"installed {version.stdout.strip()} to {installed}" in result.stdout
    assert "add it to your PATH" in result.stdout
    assert os.stat(installed).st_mode & 0o777 == 0o755


def test_a_bad_checksum_is_refused_and_the_old_binary_kept(releases, tmp_path):
    base, site = releases
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    old = bin_dir / "isartor"
    old.write_text("#!/bin/sh\necho isartor 0.0.1\n")
    publish(site, "v9.9.9", stub(tmp_path, "9.9.9"), corrupt=True)
    result = install(base, tmp_path, ISARTOR_INSTALL_DIR=str(bin_dir))
    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr and "not installed" in result.stderr
    assert old.read_text() == "#!/bin/sh\necho isartor 0.0.1\n"
    assert sorted(p.name for p in bin_dir.iterdir()) == ["isartor"]


def test_a_chosen_version_and_an_unreachable_server(releases, tmp_path):
    base, site = releases
    publish(site, "v1.2.3", stub(tmp_path, "1.2.3"))
    result = install(base, tmp_path, ISARTOR_VERSION="v1.2.3",
                     ISARTOR_API_BASE="http://127.0.0.1:9/nowhere")
    assert result.returncode == 0, result.stderr
    assert "(v1.2.3)" in result.stdout and "installed isartor 1.2.3" in result.stdout

    result = install("http://127.0.0.1:9", tmp_path)
    assert result.returncode != 0
    assert "cannot reach http://127.0.0.1:9/api to find the latest release" in result.stderr
