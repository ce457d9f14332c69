"""The host's apt sources, read to find the Debian mirror debootstrap should fetch from.

No public registry is reachable, so Debian base images are bootstrapped (dockyard.image.debian) from a
Debian mirror, and the one this host already installs its own packages from is the one most likely to be
reachable: a local mirror, a proxy or an apt cache in front of deb.debian.org. This module reads apt's
configuration as apt does, both formats in apt's order, and picks the source that serves a suite:

    resolve_mirror(suite, mirror=None) -> mirror, else $DOCKYARD_DEBIAN_MIRROR, else find_mirror(read_apt_sources())

Whatever is chosen passes check_mirror: debootstrap is shell, so the URL it is given must be one.
"""

from __future__ import annotations

import glob
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dockyard.errors import InvalidParameter, Unavailable

MIRROR_ENV = "DOCKYARD_DEBIAN_MIRROR"
APT_ETC = "/etc/apt"

# Names an archive of Debian's serves side by side, so a mirror listed for any of
# them serves the others too. Releases moved to the archive of old releases are
# left out on purpose: the ordinary mirrors no longer have them.
DEBIAN_SUITES = frozenset(
    {"oldoldstable", "oldstable", "stable", "testing", "unstable", "sid"}
    | {"bullseye", "bookworm", "trixie", "forky", "duke"}
)

# debootstrap is shell: keep anything a shell would interpret out of the URL it is given.
_MIRROR = re.compile(r"[A-Za-z0-9._~:/@%+=,\[\]-]+")
_MIRROR_SCHEMES = ("http", "https", "file")


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
