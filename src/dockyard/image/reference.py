"""Image references, parsed and normalised the way docker does it.

The grammar is the one of github.com/distribution/reference (v0.6, what docker 28 vendors):

    reference      := name [ ":" tag ] [ "@" digest ]
    name           := [ domain "/" ] path
    domain         := host [ ":" port ]
    host           := domain-component [ "." domain-component ]* | "[" ipv6 "]"
    path           := path-component [ "/" path-component ]*
    path-component := /[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*/
    tag            := /[\\w][\\w.-]{0,127}/
    digest         := algorithm ":" hex            (sha256: 64, sha384: 96, sha512: 128 lowercase hex)

Normalisation is docker's ParseNormalizedNamed: `busybox` is `docker.io/library/busybox`, `user/img` is
`docker.io/user/img`; the first component is a registry only if it is `localhost`, contains a "." or a ":", or
has an uppercase letter (namespaces can't). `familiar()` is docker's FamiliarString, the form the CLI prints.
Error messages are docker's, word for word, because users and scripts compare them.

Known divergence: docker also rewrites its legacy "index" host name for Hub to docker.io; Dockyard does not
write Hub host names other than docker.io into code, so such a name stays a registry of its own.
"""

from __future__ import annotations

import functools
import re

from dockyard.errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"
# Hub keeps official images under this namespace; familiar names hide it.
OFFICIAL_PREFIX = "library/"
# docker counts the path only (not the domain) since distribution/reference v0.6.
NAME_TOTAL_LENGTH_MAX = 255

# go-digest's registered algorithms and the length of their hex encoding.
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


@functools.cache
def _patterns() -> dict[str, re.Pattern[str]]:
    # Compiled on first use, not at import: the CLI imports this module on every command and compiling costs ~2 ms.
    # re.ASCII because Go's \w is [0-9A-Za-z_]; fullmatch() is used everywhere because Python's $ also matches
    # before a trailing newline, which Go's does not. Python's backtracking picks the same groups as Go's
    # leftmost-first submatches, which matters for splitting "host:port/path:tag".
    alnum = "[a-z0-9]+"
    path_component = rf"{alnum}(?:(?:[._]|__|-+){alnum})*"
    path = rf"{path_component}(?:/{path_component})*"
    domain_component = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    host = rf"(?:{domain_component}(?:\.{domain_component})*|\[[a-fA-F0-9:]+\])"
    domain = rf"{host}(?::[0-9]+)?"
    tag = r"\w[\w.-]{0,127}"
    digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
    return {
        "reference": re.compile(rf"((?:{domain}/)?{path})(?::({tag}))?(?:@({digest}))?", re.ASCII),
        "name": re.compile(rf"(?:({domain})/)?({path})", re.ASCII),
        "tag": re.compile(tag, re.ASCII),
        "identifier": re.compile("[a-f0-9]{64}"),
        # go-digest's own, looser shape: used only to tell "unsupported" from "malformed".
        "any_digest": re.compile("[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"),
    }


class Reference:
    """A normalised image reference; immutable and hashable.

    `domain` is the registry ("docker.io", "localhost:5000"); `path` the repository inside it ("library/busybox");
    `tag` and `digest` are None when absent; docker keeps both when both are given. Build one with parse(); the
    constructor trusts its arguments. `domain` is "" only in one docker quirk: a first component that looks like
    a host but is not a valid one ("foo_bar.com/x") makes the whole text a path with no registry.
    """

    __slots__ = ("digest", "domain", "path", "tag")
    domain: str
    path: str
    tag: str | None
    digest: str | None

    def __init__(self, domain: str, path: str, tag: str | None = None, digest: str | None = None) -> None:
        object.__setattr__(self, "domain", domain)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "tag", tag)
        object.__setattr__(self, "digest", digest)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Reference is immutable: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Reference is immutable: cannot delete {name}")

    def __reduce__(self) -> tuple[type[Reference], tuple[str, str, str | None, str | None]]:
        # The default pickling of a __slots__ class sets attributes, which __setattr__ forbids.
        return (Reference, (self.domain, self.path, self.tag, self.digest))

    @property
    def name(self) -> str:
        """The repository with its registry: "docker.io/library/busybox"."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def familiar_name(self) -> str:
        """The repository as the docker CLI shows it: "busybox", "user/img", "localhost:5000/a/b"."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        # Only a single component under library/ is shortened: "library/a/b" stays as it is, like docker.
        rest = self.path.removeprefix(OFFICIAL_PREFIX)
        return rest if rest != self.path and "/" not in rest else self.path

    def _with_suffix(self, name: str) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{name}{tag}{digest}"

    def __str__(self) -> str:
        return self._with_suffix(self.name)

    def familiar(self) -> str:
        """docker's FamiliarString: "busybox:latest", "user/img@sha256:…"."""
        return self._with_suffix(self.familiar_name)

    def with_tag(self, tag: str | None) -> Reference:
        """This reference with another tag (None removes it); the digest is kept, as docker's WithTag does."""
        if tag is not None and not _patterns()["tag"].fullmatch(tag):
            raise InvalidParameter("invalid tag format")
        return Reference(self.domain, self.path, tag, self.digest)

    def with_digest(self, digest: str | None) -> Reference:
        """This reference with another digest (None removes it); the tag is kept, as docker's WithDigest does."""
        if digest is not None:
            parse_digest(digest)
        return Reference(self.domain, self.path, self.tag, digest)

    def _key(self) -> tuple[str, str, str | None, str | None]:
        return (self.domain, self.path, self.tag, self.digest)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reference):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Reference({str(self)!r})"


def parse_digest(text: str) -> str:
    """Return text if it is a digest of a supported algorithm, else raise InvalidParameter (go-digest's Validate)."""
    algorithm, sep, encoded = text.partition(":")
    if not algorithm or not sep or not encoded:
        raise InvalidParameter("invalid checksum digest format")
    length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if length is None:
        if _patterns()["any_digest"].fullmatch(text):
            raise InvalidParameter("unsupported digest algorithm")
        raise InvalidParameter("invalid checksum digest format")
    if len(encoded) != length:
        raise InvalidParameter("invalid checksum digest length")
    # Lowercase only: digests are compared as strings, so "ABC" and "abc" must not both be valid.
    if encoded.strip("0123456789abcdef"):
        raise InvalidParameter("invalid checksum digest format")
    return text


def is_digest_id(text: str) -> bool:
    """Whether text names an image by ID rather than by repository, as docker's ParseAnyReference decides.

    That is a bare 64-hex identifier or a full valid digest ("sha256:<64 hex>"). Callers resolve these as IDs;
    short ID prefixes ("3f2a") parse as names, and callers fall back to a prefix search when the name is unknown.
    """
    if _patterns()["identifier"].fullmatch(text):
        return True
    try:
        parse_digest(text)
    except InvalidParameter:
        return False
    return True


def _split_domain(text: str) -> tuple[str, str]:
    """docker's splitDockerDomain: (registry, remainder), with Hub's defaults filled in."""
    first, slash, rest = text.partition("/")
    if not slash:
        # A single component ("ubuntu", even "localhost:5000") is always an official image, like docker does.
        return DEFAULT_DOMAIN, OFFICIAL_PREFIX + text
    # A registry is localhost, anything with "." or ":" (a host name, an IP, a port), or anything with an uppercase
    # letter, since Hub namespaces are lowercase.
    if first == "localhost" or "." in first or ":" in first or first.lower() != first:
        domain, remainder = first, rest
    else:
        domain, remainder = DEFAULT_DOMAIN, text
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def parse(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise text as docker does; add the "latest" tag when it has no tag or digest and default_tag.

    Raises InvalidParameter with docker's message when text is not a valid reference.
    """
    patterns = _patterns()
    if patterns["identifier"].fullmatch(text):
        # A bare image ID would be ambiguous with an official image of that name; docker refuses it.
        raise InvalidParameter(f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_domain(text)
    # docker checks the case of everything before the first ":", even when that runs into "@algorithm".
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidParameter(f"invalid reference format: repository name ({remote}) must be lowercase")

    full = f"{domain}/{remainder}"
    match = patterns["reference"].fullmatch(full)
    if match is None:
        lowered = full.lower()
        if lowered != full and patterns["reference"].fullmatch(lowered):
            raise InvalidParameter("repository name must be lowercase")
        raise InvalidParameter("invalid reference format")
    name, tag, digest = match.groups()

    # Split again on the name alone: when the would-be registry is not a valid host ("foo_bar.com/x"), the whole
    # name is a path without a registry. docker accepts that, so this does too.
    name_match = patterns["name"].fullmatch(name)
    assert name_match is not None  # the reference pattern already matched this name
    domain, path = name_match.group(1) or "", name_match.group(2)
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidParameter(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if digest is not None:
        parse_digest(digest)
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)
