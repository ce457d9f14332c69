"""`dockyard` (the CLI) against a dockyard daemon, side by side with the docker CLI on the same daemon."""

from __future__ import annotations

import os
import re
import subprocess
import tarfile

import pytest

from support.cli import CLI, DOCKYARD


def dockyard(daemon, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return CLI("dockyard", daemon)(*args, **kwargs)


@pytest.fixture(scope="module")
def engine(busybox_daemon):
    return busybox_daemon


def test_run_prints_output_and_exits_with_the_container_s_status(engine):
    result = dockyard(engine, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")


def test_run_exit_codes_for_missing_commands_and_images_are_docker_s(engine):
    missing = dockyard(engine, "run", "--rm", "busybox", "dy-no-such-command", check=False)
    assert missing.returncode == 127 and "executable file not found" in missing.stderr
    image = dockyard(engine, "run", "--rm", "dy-no-such-image", check=False)
    assert image.returncode == 125
    assert "Unable to find image 'dy-no-such-image:latest' locally" in image.stderr
    assert image.stderr.splitlines()[-3].startswith("dockyard: Error response from daemon:")


def test_ps_images_and_inspect_print_what_docker_prints(engine):
    dockyard(engine, "run", "-d", "--name", "cli-same", "-e", "A=1", "--label", "k=v", "busybox", "sleep", "300")
    dockyard(engine, "run", "--name", "cli-exited", "busybox", "true")
    dockyard(engine, "tag", "busybox", "cli-tag:1")
    for args in (
        ["ps"],
        ["ps", "-a"],
        ["ps", "-a", "--no-trunc"],
        ["ps", "-aq"],
        ["ps", "-s"],
        ["ps", "-a", "--filter", "status=exited"],
        ["ps", "-l"],
        ["images"],
        ["images", "-q"],
        ["images", "--digests"],
        ["history", "busybox"],
        ["inspect", "cli-same"],
        ["image", "inspect", "busybox"],
        ["inspect", "-f", "{{.State.Status}} {{json .Config.Labels}} {{range .Config.Env}}{{.}};{{end}}", "cli-same"],
        ["top", "cli-same"],
        ["ps", "-a", "--format", 'table {{.ID}}\t{{.Names}}\t{{.Status}}\t{{.Label "k"}}'],
        ["ps", "-a", "--format", "json"],
        ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"],
        ["system", "df"],
        ["system", "df", "-v"],
    ):
        # CREATED and STATUS say "1 second ago": two runs may straddle a second, so a difference gets two retries.
        for _ in range(3):
            ours, theirs = _rows(args, dockyard(engine, *args).stdout), _rows(args, engine.docker(*args).stdout)
            if ours == theirs:
                break
        assert ours == theirs, args


def _rows(args: list[str], output: str) -> str | tuple[str, list[str]]:
    """The output to compare. docker images groups an image's tags by repository in a Go map, so the
    rows of one image tagged in two repositories come in either order from docker itself: compare
    those as a set of rows under the same header."""
    if args[0] != "images":
        return output
    header, *rows = output.splitlines()
    return header, sorted(rows)


def test_lifecycle_logs_exec_stop_kill_wait_rename_and_rm(engine):
    container = dockyard(engine, "run", "-d", "busybox", "sh", "-c", "echo hello; trap 'exit 7' TERM; sleep 300 & wait")
    container_id = container.stdout.strip()
    assert len(container_id) == 64
    dockyard(engine, "rename", container_id, "cli-life")
    assert dockyard(engine, "logs", "cli-life").stdout == "hello\n"
    exec_result = dockyard(engine, "exec", "-e", "X=2", "cli-life", "sh", "-c", "echo $X; exit 4", check=False)
    assert (exec_result.returncode, exec_result.stdout) == (4, "2\n")
    assert dockyard(engine, "stop", "-t", "5", "cli-life").stdout == "cli-life\n"
    assert dockyard(engine, "wait", "cli-life").stdout == "7\n"
    dockyard(engine, "start", "cli-life")
    dockyard(engine, "kill", "-s", "KILL", "cli-life")
    assert dockyard(engine, "wait", "cli-life").stdout == "137\n"
    assert dockyard(engine, "rm", "cli-life").stdout == "cli-life\n"
    missing = dockyard(engine, "rm", "cli-life", check=False)
    assert missing.returncode == 1
    assert missing.stderr == "Error response from daemon: No such container: cli-life\n"


def test_start_attach_returns_the_exit_status(engine):
    created = dockyard(engine, "create", "--name", "cli-attach", "busybox", "sh", "-c", "echo attached; exit 5")
    assert len(created.stdout.strip()) == 64
    result = dockyard(engine, "start", "-a", "cli-attach", check=False)
    assert (result.returncode, result.stdout) == (5, "attached\n")


def test_cp_both_ways_and_diff(engine, tmp_path):
    dockyard(engine, "run", "-d", "--name", "cli-cp", "busybox", "sleep", "300")
    source = tmp_path / "in.txt"
    source.write_text("to the container\n")
    dockyard(engine, "cp", str(source), "cli-cp:/tmp/")
    assert dockyard(engine, "exec", "cli-cp", "cat", "/tmp/in.txt").stdout == "to the container\n"
    dockyard(engine, "exec", "cli-cp", "sh", "-c", "mkdir -p /data/sub && echo back > /data/sub/f")
    dockyard(engine, "cp", "cli-cp:/data", str(tmp_path / "copied"))
    assert (tmp_path / "copied" / "sub" / "f").read_text() == "back\n"
    dockyard(engine, "cp", "cli-cp:/data/sub/f", str(tmp_path))
    assert (tmp_path / "f").read_text() == "back\n"
    assert dockyard(engine, "diff", "cli-cp").stdout == engine.docker("diff", "cli-cp").stdout


def test_commit_export_import_save_load(engine, tmp_path):
    dockyard(engine, "run", "--name", "cli-commit", "busybox", "sh", "-c", "echo made > /made")
    image_id = dockyard(engine, "commit", "-m", "msg", "-c", "ENV COMMITTED=1", "cli-commit", "cli-committed:v1")
    assert image_id.stdout.startswith("sha256:")
    env = dockyard(engine, "run", "--rm", "cli-committed:v1", "sh", "-c", "cat /made; echo $COMMITTED")
    assert env.stdout == "made\n1\n"
    exported = tmp_path / "fs.tar"
    dockyard(engine, "export", "-o", str(exported), "cli-commit")
    with tarfile.open(exported) as archive:
        assert "made" in archive.getnames()
    imported = dockyard(engine, "import", str(exported), "cli-imported:1")
    assert imported.stdout.startswith("sha256:")
    assert dockyard(engine, "run", "--rm", "cli-imported:1", "cat", "/made").stdout == "made\n"
    saved = tmp_path / "images.tar"
    dockyard(engine, "save", "-o", str(saved), "cli-committed:v1")
    dockyard(engine, "rmi", "cli-committed:v1")
    loaded = dockyard(engine, "load", "-i", str(saved))
    assert loaded.stdout == "Loaded image: cli-committed:v1\n"


def test_flag_and_argument_errors_exit_as_docker_s(engine):
    unknown = dockyard(engine, "ps", "--nope", check=False)
    assert unknown.returncode == 125 and unknown.stderr.startswith("unknown flag: --nope\n")
    arity = dockyard(engine, "rm", check=False)
    assert arity.returncode == 1 and "'dockyard rm' requires at least 1 argument" in arity.stderr


def test_unreachable_daemon_says_what_to_do(tmp_path):
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/none.sock")
    env.pop("DOCKYARD_HOST", None)
    result = subprocess.run([DOCKYARD, "ps"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr == (
        f"Cannot connect to the Dockyard daemon at unix://{tmp_path}/none.sock. Is `dockyard daemon` running?\n"
    )


def test_the_launcher_skips_site_and_the_daemon_still_finds_its_packages():
    # scripts/setup.sh runs the launcher with -S; `daemon` imports aiohttp and pyroute2 before it reads --help.
    with open(DOCKYARD) as launcher:
        assert launcher.readline().rstrip("\n").endswith(" -S"), "run scripts/setup.sh after pip install"
    result = subprocess.run([DOCKYARD, "daemon", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--data-root" in result.stdout


def test_help_reads_like_docker_s():
    result = subprocess.run([DOCKYARD, "run", "--help"], capture_output=True, text=True, timeout=30)
    assert result.stdout.startswith("Usage:  dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]\n")
    assert "  -p, --publish list" in result.stdout
    top = subprocess.run([DOCKYARD, "--help"], capture_output=True, text=True, timeout=30)
    assert "Management Commands:" in top.stdout and "  ps " in top.stdout


@pytest.mark.parametrize("command", [["attach"], ["stop"], ["logs"], ["exec"], ["system", "prune"], ["wait"]])
def test_help_is_docker_s_word_for_word_and_wrapped_as_pflag_wraps(command):
    # Not a terminal (stdin from /dev/null): both wrap the flags' help to 79 columns.
    ours = subprocess.run([DOCKYARD, *command, "--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    theirs = subprocess.run(["docker", *command, "--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert ours.stdout.replace("dockyard", "docker") == theirs.stdout


def test_volume_commands_and_mounts_say_what_docker_says(engine, cli):
    volume = f"dy-cli-vol-{cli}"
    assert cli("volume", "create", "--label", f"dy-cli={cli}", volume).stdout == f"{volume}\n"
    cli("run", "--rm", "-v", f"{volume}:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    mount = f"type=volume,source={volume},target=/data,readonly"
    assert cli("run", "--rm", "--mount", mount, "busybox", "cat", "/data/f").stdout == "kept\n"
    refused = cli("run", "--rm", "--mount", mount, "busybox", "sh", "-c", "echo x > /data/g", check=False)
    assert refused.returncode == 1 and "Read-only file system" in refused.stderr
    listed = cli("volume", "ls", "--filter", f"label=dy-cli={cli}", "--format", "{{.Name}} {{.Driver}}").stdout
    assert listed == f"{volume} local\n"
    inspected = cli("volume", "inspect", "--format", "{{.Name}} {{.Labels}} {{.Mountpoint}}", volume).stdout
    assert inspected.startswith(f"{volume} map[dy-cli:{cli}] /")
    assert cli("volume", "rm", volume).stdout == f"{volume}\n"
    missing = cli("volume", "rm", volume, check=False)
    assert (missing.returncode, missing.stderr) == (1, f"Error response from daemon: get {volume}: no such volume\n")
    cli("volume", "create", "--label", f"dy-cli={cli}", volume)
    pruned = cli("volume", "prune", "--all", "--force", "--filter", f"label=dy-cli={cli}").stdout
    # The figure is the daemon's (it counts the volume's blocks, docker its files' sizes): not the CLI's business.
    assert re.fullmatch(rf"Deleted Volumes:\n{volume}\n\nTotal reclaimed space: [\d.]+k?B\n", pruned)


def test_prune_reports_what_went_as_docker_does(engine, cli):
    container = cli("create", "busybox", "true").stdout.strip()
    pruned = cli("container", "prune", "--force").stdout  # the daemon's prune takes no filters yet: all stopped
    assert re.fullmatch(r"Deleted Containers:\n([0-9a-f]{64}\n)+\nTotal reclaimed space: [\d.]+k?B\n", pruned)
    assert f"\n{container}\n" in pruned
    assert cli("container", "prune", "--force").stdout == "Total reclaimed space: 0B\n"
    cli("tag", "busybox", f"dy-prune-{cli}:1")
    image = cli("image", "prune", "--all", "--force", "--filter", "label=dy-none").stdout
    assert image == "Total reclaimed space: 0B\n"  # busybox has no such label: nothing goes
    cli("rmi", f"dy-prune-{cli}:1")
