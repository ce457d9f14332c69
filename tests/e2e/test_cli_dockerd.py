"""`dockyard` against a real Docker engine (the session's private dockerd; skipped without docker.io)."""

from __future__ import annotations

import subprocess

from test_cli_commands import DOCKYARD, dockyard


def on_dockerd(engine, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    result = subprocess.run([DOCKYARD, *args], env=engine.env, timeout=120, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"dockyard {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def test_dockyard_drives_a_real_dockerd(busybox_daemon, dockerd, tmp_path):
    archive = tmp_path / "busybox.tar"
    dockyard(busybox_daemon, "tag", "busybox", "dy-cli/busybox:1")
    dockyard(busybox_daemon, "save", "-o", str(archive), "dy-cli/busybox:1")
    try:
        assert on_dockerd(dockerd, "load", "-i", str(archive)).stdout == "Loaded image: dy-cli/busybox:1\n"
        for args in (
            ["images", "dy-cli/busybox"],
            ["image", "inspect", "dy-cli/busybox:1"],
            ["history", "dy-cli/busybox:1"],
        ):
            # CREATED says "Less than a second ago" or "1 second ago": docker's answer is taken before and after
            # ours, so that ours, taken between them, matches one of them even when the moment crosses a unit.
            before, ours, after = (
                dockerd.docker(*args).stdout,
                on_dockerd(dockerd, *args).stdout,
                dockerd.docker(*args).stdout,
            )
            assert ours in (before, after), args
        # --bridge=none: the private dockerd has no default bridge network.
        run = on_dockerd(dockerd, "run", "--rm", "--network", "none", "dy-cli/busybox:1", "sh", "-c", "echo hi; exit 3",
                         check=False)  # fmt: skip
        assert (run.returncode, run.stdout) == (3, "hi\n"), run.stderr
        missing = on_dockerd(dockerd, "inspect", "dy-cli-no-such-thing", check=False)
        assert missing.returncode == 1 and "No such object: dy-cli-no-such-thing" in missing.stderr
        # Port 9 (discard) on loopback: nothing listens, the daemon's own error is printed.
        pull = on_dockerd(dockerd, "pull", "127.0.0.1:9/dy-cli/none:1", check=False)
        assert pull.returncode == 1 and pull.stderr.startswith("Error response from daemon: "), pull.stderr
        version = on_dockerd(dockerd, "version", "-f", "{{.Server.ApiVersion}}").stdout.strip()
        assert version == dockerd.docker("version", "-f", "{{.Server.APIVersion}}").stdout.strip()
    finally:
        dockerd.docker("rmi", "-f", "dy-cli/busybox:1", check=False)
