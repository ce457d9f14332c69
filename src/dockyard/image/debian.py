"""Debian base images made with debootstrap, because no public registry is reachable.

    build_debian_rootfs(dest, suite, variant=, mirror=, cache_dir=)  -> a trimmed Debian tree at dest
    write_debian_layout(rootfs, dest, tag=)                          -> that tree as a one-layer OCI layout
    debian_image(dest, suite, cache_dir, ...)                        -> both, the rootfs built afresh

The mirror is the caller's, else $DOCKYARD_DEBIAN_MIRROR, else the host's own apt
sources (resolve_mirror). Downloaded packages are kept in <cache_dir>/debootstrap
(debootstrap --cache-dir), so only the indexes are fetched again next time.

debootstrap mounts proc (and sys, /dev when it must) inside the tree while it installs. It runs in
mount and PID namespaces of its own (unshare), so those mounts never show in
ours and vanish with its last process, however it ends; killing the namespace's
first process kills every process in it. Before the tree is kept or removed it
is still checked against /proc/self/mountinfo and anything mounted under it is
detached, deepest first, so rmtree can never descend into a mount.

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
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TextIO

from dockyard.errors import Internal, InvalidParameter, PermissionDenied, Unavailable
from dockyard.image.bootstrap import PATH_ENV, base_config, building_beside
from dockyard.kernel import constants as k
from dockyard.kernel.mounts import unmount_all

VARIANTS = ("minbase", "buildd", "default")  # "default" is debootstrap's own: Priority required + important
MIRROR_ENV = "DOCKYARD_DEBIAN_MIRROR"
APT_ETC = "/etc/apt"
DEBOOTSTRAP_SCRIPTS = "/usr/share/debootstrap/scripts"

# Names an archive of Debian's serves side by side, so a mirror listed for any of
# them serves the others too. Releases moved to the archive of old releases are
# left out on purpose: the ordinary mirrors no longer have them.
DEBIAN_SUITES = frozenset(
    {"oldoldstable", "oldstable", "stable", "testing", "unstable", "sid"}
    | {"bullseye", "bookworm", "trixie", "forky", "duke"}
)

_SUITE = re.compile(r"[a-z][a-z0-9-]{0,39}")
# debootstrap is shell: keep anything a shell would interpret out of the URL it is given.
_MIRROR = re.compile(r"[A-Za-z0-9._~:/@%+=,\[\]-]+")
_MIRROR_SCHEMES = ("http", "https", "file")
_PATH = PATH_ENV.split("=", 1)[1]


def check_suite(suite: str) -> str:
    if not _SUITE.fullmatch(suite):
        raise InvalidParameter(f"invalid Debian suite {suite!r}: expected a name such as bookworm, trixie or stable")
    return suite


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise InvalidParameter(f"invalid debootstrap variant {variant!r}: expected one of {', '.join(VARIANTS)}")
    return variant


def check_mirror(mirror: str) -> str:
    url = urllib.parse.urlsplit(mirror)
    if (
        not _MIRROR.fullmatch(mirror)
        or url.scheme not in _MIRROR_SCHEMES
        or (url.scheme == "file" and not url.path.startswith("/"))
        or (url.scheme != "file" and not url.netloc)
    ):
        raise InvalidParameter(f"invalid Debian mirror {mirror!r}: expected an http://, https:// or file:/// URL")
    return mirror.rstrip("/")


# --- the host's apt sources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One entry of apt's sources: a one-line `deb ...` line or a deb822 stanza."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()


_ONE_LINE = re.compile(r"(?P<type>\S+)\s+(?:\[(?P<options>[^\]]*)\]\s*)?(?P<rest>.*)")


def parse_sources_list(text: str) -> list[Source]:
    """Entries of a sources.list in the one-line format: `deb [opt=value ...] URI SUITE [COMPONENT...]`."""
    found = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()  # apt ends a line at its first '#'
        match = _ONE_LINE.fullmatch(line)
        if not match:
            continue
        rest = match["rest"].split()
        if len(rest) < 2:
            continue  # apt refuses such a line; it names no suite to bootstrap from anyway
        options = []
        for option in (match["options"] or "").split():
            key, _, value = option.partition("=")
            options.append((key.rstrip("+-").lower(), value))
        found.append(Source((match["type"],), (rest[0],), (rest[1],), tuple(rest[2:]), tuple(options)))
    return found


def parse_deb822_sources(text: str) -> list[Source]:
    """Entries of a .sources file (deb822): stanzas of `Field: value` lines, continued by indented lines."""
    stanzas: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    key = None
    for line in [*text.splitlines(), ""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if fields:
                stanzas.append(fields)
            fields, key = {}, None
        elif line[0] in " \t":
            if key is not None:
                fields[key] += "\n" + line.strip()
        else:
            name, colon, value = line.partition(":")
            key = name.strip().lower() if colon else None
            if key is not None:
                fields[key] = value.strip()
    found = []
    for stanza in stanzas:
        if stanza.pop("enabled", "yes").lower() in ("no", "false", "0"):
            continue
        types, uris, suites, components = (stanza.pop(k, "").split() for k in ("types", "uris", "suites", "components"))
        found.append(Source(tuple(types), tuple(uris), tuple(suites), tuple(components), tuple(stanza.items())))
    return found


def read_apt_sources(etc_apt: str = APT_ETC) -> list[Source]:
    """The host's sources in apt's order: sources.list, then sources.list.d/*.list and *.sources by name."""
    found = []
    paths = [os.path.join(etc_apt, "sources.list"), *sorted(glob.glob(os.path.join(etc_apt, "sources.list.d", "*")))]
    for path in paths:
        parse = parse_deb822_sources if path.endswith(".sources") else parse_sources_list
        if path.endswith((".list", ".sources")):
            try:
                with open(path, errors="replace") as f:
                    found += parse(f.read())
            except (FileNotFoundError, IsADirectoryError):
                pass
    return found


def _release(suite: str) -> str:
    """bookworm for bookworm-updates or bookworm-backports: the release a suite belongs to."""
    return suite.split("-", 1)[0]


def _is_security(suite: str) -> bool:
    # The security archive holds only the updates, not a whole release: debootstrap can't start from it.
    return suite.endswith("-security") or suite.endswith("/updates")


def find_mirror(sources: Iterable[Source], suite: str) -> str | None:
    """The first `deb` URI that serves suite, by the closest match across all sources.

    First a source listing suite itself, then one listing a suite of its release
    (bookworm-updates for bookworm), then, for a Debian suite, any source listing
    a Debian suite (a Debian mirror serves every current release).
    """
    candidates = [
        (source.suites, uri)
        for source in sources
        if "deb" in source.types
        for uri in source.uris
        if urllib.parse.urlsplit(uri).scheme in _MIRROR_SCHEMES
    ]
    tiers = [
        lambda listed: listed == suite,
        lambda listed: _release(listed) == suite and not _is_security(listed),
    ]
    if suite in DEBIAN_SUITES:
        tiers.append(lambda listed: _release(listed) in DEBIAN_SUITES and not _is_security(listed))
    for matches in tiers:
        for suites, uri in candidates:
            if any(matches(listed) for listed in suites):
                return uri.rstrip("/")
    return None


def resolve_mirror(
    suite: str, mirror: str | None = None, *, environ: Mapping[str, str] = os.environ, etc_apt: str = APT_ETC
) -> str:
    """The mirror to bootstrap suite from: mirror, else $DOCKYARD_DEBIAN_MIRROR, else the host's apt sources."""
    if mirror:
        return check_mirror(mirror)
    if environ.get(MIRROR_ENV):
        return check_mirror(environ[MIRROR_ENV])
    found = find_mirror(read_apt_sources(etc_apt), suite)
    if found is None:
        raise Unavailable(
            f"no Debian mirror for {suite!r} in the host's apt sources ({etc_apt}/sources.list, "
            f"{etc_apt}/sources.list.d): pass --mirror URL or set {MIRROR_ENV}"
        )
    return check_mirror(found)


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


# --- mounts left under the tree --------------------------------------------------------------------------------


def mount_points_under(root: str, mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Mount points at or under root in our mount namespace, deepest first."""
    root = os.path.realpath(root)
    with open(mountinfo) as f:
        points = [_unescape(line.split(" ")[4]) for line in f if line.strip()]
    under = [p for p in points if p == root or p.startswith(root + "/")]
    return sorted(set(under), key=lambda p: p.count("/"), reverse=True)


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def unmount_under(root: str) -> None:
    """Detach everything mounted at or under root, deepest first; Internal if something stays mounted."""
    for point in mount_points_under(root):
        unmount_all(point, k.MNT_DETACH)
    left = mount_points_under(root)
    if left:
        raise Internal(f"still mounted under {root} after unmounting: {', '.join(left)}")


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
