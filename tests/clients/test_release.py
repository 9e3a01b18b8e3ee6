"""Releases end to end, with real archives: scripts/release.sh builds two versions from this tree
(the second with its version bumped), a local server plays GitHub's release API and download
host, install.sh installs the first from its archive, `isartor update --yes` upgrades it to the
second from its archive, `--check` then says it is up to date, and an archive whose checksum
does not match is refused with the installed binary kept. The archives are built with the dev
profile (the one the test suite has already built); the release workflow runs the same script
with the release profile."""

import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from conftest import ROOT

REPO = "isartor-dev/isartor"


def cargo_version():
    return re.search(r'^version = "(.*)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)


def bumped(version):
    major, minor, patch = (int(p) for p in version.split("."))
    return f"{major}.{minor}.{patch + 1}"


def build_release(tree, tag, dist):
    env = dict(os.environ, DIST_DIR=str(dist), ISARTOR_RELEASE_PROFILE="dev")
    run = subprocess.run([str(tree / "scripts" / "release.sh"), tag], cwd=tree, env=env,
                         capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    return Path(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """Two real releases: this tree's version, and the next patch version."""
    dist = tmp_path_factory.mktemp("dist")
    version = cargo_version()
    first = build_release(ROOT, f"v{version}", dist)
    # The same tree with the version bumped (in Cargo.toml and Cargo.lock, so --locked holds).
    tree = tmp_path_factory.mktemp("next") / "isartor"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (tree / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, tree / f)
    nxt = bumped(version)
    toml = (tree / "Cargo.toml").read_text().replace(f'version = "{version}"', f'version = "{nxt}"', 1)
    (tree / "Cargo.toml").write_text(toml)
    lock = (tree / "Cargo.lock").read_text().replace(
        f'name = "isartor"\nversion = "{version}"', f'name = "isartor"\nversion = "{nxt}"')
    (tree / "Cargo.lock").write_text(lock)
    second = build_release(tree, f"v{nxt}", dist)
    return dist, (f"v{version}", first), (f"v{nxt}", second)


class Site:
    """GitHub's release API (`releases/latest`, `releases/tags/T`) and its download host."""

    def __init__(self, root):
        self.root = root
        handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.RequestHandlerClass.log_message = lambda *a: None
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def publish(self, tag, archive, sums, corrupt=False):
        folder = self.root / "download" / tag
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(archive, folder / archive.name)
        lines = [l for l in sums.read_text().splitlines() if l.endswith(archive.name)]
        assert len(lines) == 1, "SHA256SUMS lists the archive once"
        line = lines[0]
        if corrupt:
            line = "0" * 64 + line[64:]
        (folder / "SHA256SUMS").write_text(line + "\n")
        release = {"tag_name": tag, "name": tag, "assets": [
            {"name": archive.name, "browser_download_url": f"{self.base}/download/{tag}/{archive.name}"},
            {"name": "SHA256SUMS", "browser_download_url": f"{self.base}/download/{tag}/SHA256SUMS"}]}
        api = self.root / "api" / "repos" / REPO / "releases"
        (api / "tags").mkdir(parents=True, exist_ok=True)
        (api / "latest").write_text(json.dumps(release))
        (api / "tags" / tag).write_text(json.dumps(release))

    def stop(self):
        self.server.shutdown()


def test_release_archives_install_and_update(releases, tmp_path):
    dist, (tag1, archive1), (tag2, archive2) = releases
    sums = dist / "SHA256SUMS"
    # The archives hold what a release promises, at their root.
    with tarfile.open(archive1) as tar:
        names = set(tar.getnames())
    assert {"isartor", "README.md", "LICENSE", "man/isartor.1", "completions/isartor.bash"} <= names
    for archive in (archive1, archive2):
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        assert f"{digest}  {archive.name}" in sums.read_text().splitlines()

    site = Site(tmp_path / "site")
    try:
        home = tmp_path / "home"
        home.mkdir()
        bin_dir = tmp_path / "bin"
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "ISARTOR_INSTALL_DIR": str(bin_dir),
               "ISARTOR_DOWNLOAD_BASE": f"{site.base}/download", "ISARTOR_API_BASE": f"{site.base}/api",
               "ISARTOR__UPDATE__API_BASE": f"{site.base}/api"}
        site.publish(tag1, archive1, sums)
        run = subprocess.run(["sh", str(ROOT / "install.sh")], env=env, capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        installed = bin_dir / "isartor"

        def version():
            return subprocess.run([str(installed), "--version"], env=env, capture_output=True,
                                  text=True, check=True).stdout.strip()

        assert version().startswith(f"isartor {tag1[1:]} (commit "), version()

        site.publish(tag2, archive2, sums)
        update = subprocess.run([str(installed), "update", "--yes"], env=env, capture_output=True,
                                text=True, timeout=120)
        assert update.returncode == 0, update.stdout + update.stderr
        assert version().startswith(f"isartor {tag2[1:]} "), version()
        check = subprocess.run([str(installed), "update", "--check"], env=env, capture_output=True,
                               text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr

        # A newer release whose checksum does not match is refused; the binary stays as it was.
        tag3 = "v" + bumped(tag2[1:])
        bad = tmp_path / f"isartor-{tag3}-{archive2.name.split('-', 2)[2]}"
        shutil.copy(archive2, bad)
        fake_sums = tmp_path / "SHA256SUMS"
        fake_sums.write_text(f"{hashlib.sha256(bad.read_bytes()).hexdigest()}  {bad.name}\n")
        site.publish(tag3, bad, fake_sums, corrupt=True)
        before = installed.read_bytes()
        refused = subprocess.run([str(installed), "update", "--yes"], env=env, capture_output=True,
                                 text=True, timeout=120)
        assert refused.returncode != 0
        assert "checksum mismatch" in refused.stdout + refused.stderr
        assert installed.read_bytes() == before
        assert version().startswith(f"isartor {tag2[1:]} ")
    finally:
        site.stop()
