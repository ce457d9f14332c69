"""Debian base images made with debootstrap, because no public registry is reachable.

    build_debian_rootfs(dest, suite, variant=, mirror=, cache_dir=)  -> a trimmed Debian tree at dest
    write_debian_layout(rootfs, dest, tag=)                          -> that tree as a one-layer OCI layout
    debian_image(dest, suite, cache_dir, ...)                        -> both, the rootfs built afresh

The mirror is the caller's, else $DOCKYARD_DEBIAN_MIRROR, else the host's own apt
sources (resolve_mirror, in dockyard.image.apt_sources). Downloaded packages are
kept in <cache_dir>/debootstrap (debootstrap --cache-dir), so only the indexes
are fetched again next time.

debootstrap mounts proc (and sys, /dev when it must) inside the tree while it installs. It runs in
mount and PID namespaces of its own (unshare), so those mounts never show in
ours and vanish with its last process, however it ends; killing the namespace's
first process kills every process in it. Before the tree is kept or removed it
is still checked against /proc/self/mountinfo and anything mounted under it is
detached, deepest first (dockyard.kernel.mounts.unmount_under), so rmtree can
never descend into a mount.

The tree is trimmed as the official debian image is (debuerreotype): no apt
lists, apt caches, downloaded .debs, install logs or device nodes, and the same
apt/dpkg settings that keep later layers lean. It stays a working apt system.
"""

from __future__ import annotations

import collections
import contextlib
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable
from typing import TextIO

from dockyard.errors import Internal, InvalidParameter, PermissionDenied, Unavailable
from dockyard.image.apt_sources import resolve_mirror
from dockyard.image.bootstrap import PATH_ENV, base_config, building_beside
from dockyard.kernel.mounts import unmount_under

VARIANTS = ("minbase", "buildd", "default")  # "default" is debootstrap's own: Priority required + important
DEBOOTSTRAP_SCRIPTS = "/usr/share/debootstrap/scripts"

_SUITE = re.compile(r"[a-z][a-z0-9-]{0,39}")
_PATH = PATH_ENV.split("=", 1)[1]


def check_suite(suite: str) -> str:
    if not _SUITE.fullmatch(suite):
        raise InvalidParameter(f"invalid Debian suite {suite!r}: expected a name such as bookworm, trixie or stable")
    return suite


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise InvalidParameter(f"invalid debootstrap variant {variant!r}: expected one of {', '.join(VARIANTS)}")
    return variant


# --- running debootstrap ---------------------------------------------------------------------------------------


def build_debian_rootfs(
    dest: str,
    suite: str,
    *,
    variant: str = "minbase",
    mirror: str | None = None,
    cache_dir: str,
    progress: TextIO | None = None,
) -> str:
    """Make dest a Debian root filesystem of suite with debootstrap; return dest.

    The tree is built beside dest and renamed into place; on any failure or
    interruption nothing is left mounted and the partial tree is removed.
    progress, when given, receives debootstrap's output as it comes.
    """
    check_suite(suite)
    check_variant(variant)
    mirror = resolve_mirror(suite, mirror)
    debootstrap, unshare = _tool("debootstrap"), _tool("unshare")
    if os.geteuid() != 0:
        raise PermissionDenied("debootstrap needs root (it creates device nodes and chroots to install packages)")
    debs = os.path.join(os.path.abspath(cache_dir), "debootstrap")
    os.makedirs(debs, exist_ok=True)
    with building_beside(dest, release=unmount_under) as work:
        argv = [
            # A mount and a PID namespace of its own: see the module docstring.
            *(unshare, "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc"),
            *(debootstrap, "--force-check-gpg", f"--cache-dir={debs}"),
            *([f"--variant={variant}"] if variant != "default" else []),
            *(suite, work, mirror),
            *_script_for(suite),
        ]
        try:
            _run(argv, progress, what=f"debootstrap {suite} from {mirror}", work=work)
        finally:
            unmount_under(work)
        _mark_auto(work)
        _trim(work)
    return dest


def _tool(name: str) -> str:
    path = shutil.which(name, path=_PATH)
    if path is None:
        package = "debootstrap" if name == "debootstrap" else "util-linux"
        raise Unavailable(f"{name} is not installed: bootstrapping Debian needs it (apt-get install {package})")
    return path


def _script_for(suite: str) -> list[str]:
    # A Debian release newer than this debootstrap has no script of its own yet;
    # every current Debian suite's script is sid's, so name it explicitly.
    if os.path.exists(os.path.join(DEBOOTSTRAP_SCRIPTS, suite)):
        return []
    sid = os.path.join(DEBOOTSTRAP_SCRIPTS, "sid")
    return [sid] if os.path.exists(sid) else []


def _run(argv: list[str], progress: TextIO | None, *, what: str, work: str) -> None:
    tail: collections.deque[str] = collections.deque(maxlen=40)
    env = {**os.environ, "PATH": _PATH, "DEBIAN_FRONTEND": "noninteractive"}
    # A session of its own: a terminal's ^C reaches us only, and we stop the whole group.
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        start_new_session=True, text=True, errors="replace",
    ) as process:  # fmt: skip
        try:
            for line in process.stdout or ():
                tail.append(line.rstrip("\n"))
                if progress is not None:
                    progress.write(line)
                    progress.flush()
            code = process.wait()
        except BaseException:
            _stop_group(process)
            raise
    if code != 0:
        raise Unavailable(f"{what} failed (exit {code}): {_failure(tail, work)}")


def _stop_group(process: subprocess.Popen) -> None:
    """SIGKILL the process group (unshare, the namespace's first process and its children) and wait for it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group pgid still runs (zombies don't count: they write nothing)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    state, _ppid, group = f.read().rsplit(")", 1)[1].split()[:3]
            except (OSError, ValueError):
                continue
            if int(group) == pgid and state != "Z":
                return True
    return False


def _failure(tail: Iterable[str], work: str) -> str:
    """Why debootstrap failed: its E: lines (else its last lines), and the end of its log if it wrote one."""
    lines = [line for line in tail if line.strip()]
    reason = " ".join([line for line in lines if line.startswith("E: ")] or lines[-3:] or ["no output"])
    try:
        with open(os.path.join(work, "debootstrap", "debootstrap.log"), errors="replace") as f:
            log = list(dict.fromkeys(line.rstrip() for line in f if line.strip()))[-5:]
    except OSError:
        log = []
    return reason + (" | debootstrap.log: " + " / ".join(log) if log else "")


# --- trimming, as the official image is ------------------------------------------------------------------------

# Removed after debootstrap, relative to the root (globs).
_TRIM = (
    "var/lib/apt/lists/*",  # package indexes: `apt-get update` fetches fresh ones (apt recreates partial/)
    "var/cache/apt/*",  # the .debs debootstrap installed from, and the *.bin caches
    "var/log/dpkg.log",
    "var/log/bootstrap.log",
    "var/log/alternatives.log",
    "var/log/apt/*",
    "var/cache/ldconfig/aux-cache",
    "run/mount/utab",
    "etc/apt/apt.conf.d/01autoremove-kernels",  # names the host's kernel
    "dev/*",  # the runtime gives every container its own /dev
)

# The settings the official image ships, under the same names: Dockerfiles written
# for it remove or edit them by name (`rm /etc/apt/apt.conf.d/docker-clean` to keep
# .debs in a build cache mount).
_CLEAN = '"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true";'
_SETTINGS = {
    # invoke-rc.d asks this script; 101 means "don't start services": nothing can run them in an image build.
    "usr/sbin/policy-rc.d": "#!/bin/sh\n# Packages installed in a container build must not start services.\nexit 101\n",
    # A build that dies is thrown away, so dpkg's fsyncs buy nothing.
    "etc/dpkg/dpkg.cfg.d/docker-apt-speedup": "force-unsafe-io\n",
    # `apt-get clean` after every install and update: caches would only bloat the layer.
    "etc/apt/apt.conf.d/docker-clean": (
        f"DPkg::Post-Invoke {{ {_CLEAN} }};\nAPT::Update::Post-Invoke {{ {_CLEAN} }};\n"
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    ),
    # Indexes stay compressed on disk: an `apt-get update` layer is a fraction of the size.
    "etc/apt/apt.conf.d/docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "etc/apt/apt.conf.d/docker-no-languages": 'Acquire::Languages "none";\n',
    # `apt-get purge --auto-remove` then removes what an install pulled in, even if something suggests it.
    "etc/apt/apt.conf.d/docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
    # debootstrap copies the host's: the runtime provides both to each container.
    "etc/hostname": "localhost\n",
    "etc/resolv.conf": "",
}


def _mark_auto(root: str) -> None:
    # Everything minbase installs is essential or needed by it: marked automatic,
    # `apt-mark showmanual` lists only what users add, as in the official image.
    result = subprocess.run(
        ["chroot", root, "apt-mark", "auto", ".*"], capture_output=True, text=True, env={"PATH": _PATH}, timeout=120
    )
    if result.returncode != 0:
        raise Internal(f"apt-mark auto in the new Debian tree failed: {result.stderr.strip()}")


def _inside(root: str, path: str) -> bool:
    """Whether path's directory resolves inside root: an absolute symlink in the tree points at the host's files."""
    return os.path.realpath(os.path.dirname(path)).startswith(os.path.realpath(root) + os.sep)


def _trim(root: str) -> None:
    for pattern in _TRIM:
        for path in glob.glob(os.path.join(root, pattern)):
            if not _inside(root, path):
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    for name, text in _SETTINGS.items():
        path = os.path.join(root, name)
        if not os.path.isdir(os.path.dirname(path)) or not _inside(root, path):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # never write through a symlink (debootstrap may leave one) to the host
        mode = 0o755 if name.endswith("policy-rc.d") else 0o644
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with open(fd, "w") as f:
            f.write(text)
        os.chmod(path, mode)  # past the umask
    # mkdtemp made the root 0700; an image's / is 0755 root:root.
    os.chown(root, 0, 0)
    os.chmod(root, 0o755)


# --- the image -------------------------------------------------------------------------------------------------


def write_debian_layout(rootfs: str, dest: str, *, tag: str, created_by: str = "dockyard bootstrap debian") -> str:
    """Write a Debian rootfs as a one-layer image into the OCI layout at dest; return the manifest digest.

    The config is the official image's: `bash` as the command and the usual PATH.
    """
    from dockyard.image.layout import write_rootfs_image

    return write_rootfs_image(rootfs, dest, tag=tag, config=base_config(["bash"]), created_by=created_by)


def debian_image(
    dest: str,
    suite: str,
    cache_dir: str,
    *,
    variant: str = "minbase",
    mirror: str | None = None,
    tag: str | None = None,
    progress: TextIO | None = None,
) -> str:
    """Bootstrap suite afresh (packages come from the cache when they can) and write it as an OCI layout at dest.

    Returns the manifest digest; the tag defaults to the suite.
    """
    os.makedirs(cache_dir, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".dy-debian-", dir=cache_dir)
    try:
        rootfs = build_debian_rootfs(
            os.path.join(scratch, "rootfs"), suite, variant=variant, mirror=mirror, cache_dir=cache_dir,
            progress=progress,
        )  # fmt: skip
        created_by = f"dockyard bootstrap debian:{suite} --variant {variant}"
        return write_debian_layout(rootfs, dest, tag=tag or suite, created_by=created_by)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
