"""Image references parse and normalise exactly as docker's (distribution/reference v0.6 ParseNormalizedNamed).

The tables hold docker's own test cases (normalize_test.go, reference_test.go) and the messages it prints; the
property tests generate references from the grammar and check that parsing is a fixed point of str() and familiar().
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dockyard.errors import InvalidParameter
from dockyard.image.reference import is_digest_id, parse, parse_digest

HEX64 = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
SHA256 = f"sha256:{HEX64}"
SHA512 = "sha512:" + "f" * 128


# input -> (domain, path, tag, digest, familiar()) with the default "latest" tag applied.
VALID = {
    "busybox": ("docker.io", "library/busybox", "latest", None, "busybox:latest"),
    "user/img": ("docker.io", "user/img", "latest", None, "user/img:latest"),
    "localhost:5000/a/b:tag": ("localhost:5000", "a/b", "tag", None, "localhost:5000/a/b:tag"),
    "localhost/x": ("localhost", "x", "latest", None, "localhost/x:latest"),
    "example.com/x": ("example.com", "x", "latest", None, "example.com/x:latest"),
    f"name@{SHA256}": ("docker.io", "library/name", None, SHA256, f"name@{SHA256}"),
    f"name:tag@{SHA256}": ("docker.io", "library/name", "tag", SHA256, f"name:tag@{SHA256}"),
    f"busybox:latest@{SHA256}": ("docker.io", "library/busybox", "latest", SHA256, f"busybox:latest@{SHA256}"),
    "docker.io/foo": ("docker.io", "library/foo", "latest", None, "foo:latest"),
    "docker.io/library/foo": ("docker.io", "library/foo", "latest", None, "foo:latest"),
    "docker.io/library/foo/bar": ("docker.io", "library/foo/bar", "latest", None, "library/foo/bar:latest"),
    "library/ubuntu-12.04-base": ("docker.io", "library/ubuntu-12.04-base", "latest", None, "ubuntu-12.04-base:latest"),
    "other/library": ("docker.io", "other/library", "latest", None, "other/library:latest"),
    "store/foo/bar": ("docker.io", "store/foo/bar", "latest", None, "store/foo/bar:latest"),
    "test_com/foo": ("docker.io", "test_com/foo", "latest", None, "test_com/foo:latest"),
    "test.com:8080/foo": ("test.com:8080", "foo", "latest", None, "test.com:8080/foo:latest"),
    "test-com:8080/foo": ("test-com:8080", "foo", "latest", None, "test-com:8080/foo:latest"),
    "xn--n3h.com:18080/foo": ("xn--n3h.com:18080", "foo", "latest", None, "xn--n3h.com:18080/foo:latest"),
    "127.0.0.1:8000/private/moonbase": ("127.0.0.1:8000", "private/moonbase", "latest", None, None),
    "example.com:8000/privatebasee": ("example.com:8000", "privatebasee", "latest", None, None),
    # A lone component is always an official image, even when it looks like a host (docker's FIXME).
    "192.168.0.1": ("docker.io", "library/192.168.0.1", "latest", None, "192.168.0.1:latest"),
    "192.168.0.1:80": ("docker.io", "library/192.168.0.1", "80", None, "192.168.0.1:80"),
    "localhost": ("docker.io", "library/localhost", "latest", None, "localhost:latest"),
    "foo_bar.com:8080": ("docker.io", "library/foo_bar.com", "8080", None, "foo_bar.com:8080"),
    "foo/foo_bar.com:8080": ("docker.io", "foo/foo_bar.com", "8080", None, "foo/foo_bar.com:8080"),
    "192.168.0.1:8/debian": ("192.168.0.1:8", "debian", "latest", None, None),
    "[fc00::1]:5000/docker/docker": ("[fc00::1]:5000", "docker/docker", "latest", None, None),
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian": ("[fc00:1:2:3:4:5:6:7]:5000", "library/debian", "latest", None, None),
    "[2001:db8::1]/repo": ("[2001:db8::1]", "repo", "latest", None, None),
    "[::1]:5000/repo:tag": ("[::1]:5000", "repo", "tag", None, None),
    # With a registry a 64-hex path is not ambiguous any more.
    f"docker.io/{HEX64}": ("docker.io", f"library/{HEX64}", "latest", None, f"{HEX64}:latest"),
    f"{HEX64}:tag": ("docker.io", f"library/{HEX64}", "tag", None, f"{HEX64}:tag"),
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev": (
        "docker.io",
        "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "latest",
        None,
        None,
    ),
    # Hub namespaces are lowercase, so an uppercase first component is a registry.
    "Docker/docker": ("Docker", "docker", "latest", None, "Docker/docker:latest"),
    "FOO/bar": ("FOO", "bar", "latest", None, "FOO/bar:latest"),
    "docker---rules/docker": ("docker.io", "docker---rules/docker", "latest", None, None),
    "dock__er/docker": ("docker.io", "dock__er/docker", "latest", None, None),
    "d/docker": ("docker.io", "d/docker", "latest", None, None),
    "jess/t": ("docker.io", "jess/t", "latest", None, None),
    "lowercase:Uppercase": ("docker.io", "library/lowercase", "Uppercase", None, "lowercase:Uppercase"),
    "b.gcr.io/test.example.com/my-app:test.example.com": (
        "b.gcr.io",
        "test.example.com/my-app",
        "test.example.com",
        None,
        None,
    ),
    f"xn--7o8h.com/myimage:xn--7o8h.com@{SHA512}": ("xn--7o8h.com", "myimage", "xn--7o8h.com", SHA512, None),
    # docker's quirk: a first component that looks like a host but is not a valid one makes it all a path.
    "foo_bar.com/x": ("", "foo_bar.com/x", "latest", None, "foo_bar.com/x:latest"),
    # The 255-character limit is on the path only.
    "example.com/" + "a" * 255: ("example.com", "a" * 255, "latest", None, None),
    "a/" * 127 + "a:tag-puts-this-over-max": ("docker.io", "a/" * 127 + "a", "tag-puts-this-over-max", None, None),
}


@pytest.mark.parametrize("text", sorted(VALID))
def test_docker_normalisation_cases(text):
    domain, path, tag, digest, familiar = VALID[text]
    ref = parse(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    if familiar is not None:
        assert ref.familiar() == familiar
    assert parse(str(ref)) == ref
    assert parse(ref.familiar()) == ref


INVALID = {
    "": "invalid reference format",
    ":justtag": "invalid reference format",
    f"@{SHA256}": "invalid reference format",
    "https://github.com/docker/docker": "invalid reference format",
    "-docker": "invalid reference format",
    "-docker/docker": "invalid reference format",
    "-docker.io/docker/docker": "invalid reference format",
    "docker-/docker": "invalid reference format",
    "docker///docker": "invalid reference format",
    "docker.io/docker///docker": "invalid reference format",
    "____/____": "invalid reference format",
    "_docker/_docker": "invalid reference format",
    "dock..er/docker": "invalid reference format",
    "dock_.er/docker": "invalid reference format",
    "docker/": "invalid reference format",
    "aa/asdf$$^/aa": "invalid reference format",
    "[fc00::1]": "invalid reference format",
    "[fc00::1]:5000": "invalid reference format",
    "fc00::1:5000/debian": "invalid reference format",
    "[fe80::1%eth0]:5000/debian": "invalid reference format",
    "[2001:db8:3:4::192.0.2.33]:5000/debian": "invalid reference format",
    "x:" + "a" * 129: "invalid reference format",
    "x:-tag": "invalid reference format",
    "x@sha256:abc": "invalid reference format",
    # Go's $ does not match before a trailing newline and its \w is ASCII only.
    "busybox\n": "invalid reference format",
    "busybox:t\u00e9": "invalid reference format",
    "Busybox": "invalid reference format: repository name (library/Busybox) must be lowercase",
    "Uppercase:tag": "invalid reference format: repository name (library/Uppercase) must be lowercase",
    "docker/Docker": "invalid reference format: repository name (docker/Docker) must be lowercase",
    "docker.io/docker/Docker": "invalid reference format: repository name (docker/Docker) must be lowercase",
    "test:5000/Uppercase/lowercase:tag": (
        "invalid reference format: repository name (Uppercase/lowercase) must be lowercase"
    ),
    "Foo_Bar/x": "repository name must be lowercase",
    HEX64: f"invalid repository name ({HEX64}), cannot specify 64-byte hexadecimal strings",
    "repo@sha256:" + "f" * 34: "invalid checksum digest length",
    "validname@invaliddigest:" + "f" * 64: "unsupported digest algorithm",
    "x@sha256:" + "F" * 64: "invalid checksum digest format",
    "example.com/" + "a" * 256: "repository name must not be more than 255 characters",
    "a/" * 128 + "a:tag": "repository name must not be more than 255 characters",
    "x" * 248: "repository name must not be more than 255 characters",  # "library/" tips it over
}


@pytest.mark.parametrize("text", sorted(INVALID))
def test_docker_rejects_with_its_message(text):
    with pytest.raises(InvalidParameter) as exc:
        parse(text)
    assert str(exc.value) == INVALID[text]


def test_default_tag_can_be_left_out():
    assert parse("busybox", default_tag=False).tag is None
    assert str(parse("busybox", default_tag=False)) == "docker.io/library/busybox"
    assert parse(f"busybox@{SHA256}").tag is None


def test_names():
    ref = parse("localhost:5000/a/b:tag")
    assert (ref.name, ref.familiar_name, str(ref)) == (
        "localhost:5000/a/b",
        "localhost:5000/a/b",
        "localhost:5000/a/b:tag",
    )
    ref = parse("busybox")
    assert (ref.name, ref.familiar_name) == ("docker.io/library/busybox", "busybox")
    assert repr(ref) == "Reference('docker.io/library/busybox:latest')"


def test_with_tag_keeps_the_digest_and_validates():
    ref = parse(f"busybox@{SHA256}")
    assert str(ref.with_tag("1.36")) == f"docker.io/library/busybox:1.36@{SHA256}"
    assert ref.with_tag("1.36").with_tag(None) == ref
    with pytest.raises(InvalidParameter, match=r"^invalid tag format$"):
        ref.with_tag("-bad")


def test_with_digest_keeps_the_tag_and_validates():
    ref = parse("busybox:1.36")
    assert ref.with_digest(SHA256).familiar() == f"busybox:1.36@{SHA256}"
    assert ref.with_digest(SHA256).with_digest(None) == ref
    with pytest.raises(InvalidParameter, match=r"^invalid checksum digest length$"):
        ref.with_digest("sha256:abcd")


def test_references_are_immutable_hashable_and_picklable():
    ref = parse("busybox")
    with pytest.raises(AttributeError):
        ref.tag = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del ref.path
    assert {ref, parse("docker.io/library/busybox:latest")} == {ref}
    assert ref != parse("busybox:1")
    assert ref != "docker.io/library/busybox:latest"
    assert pickle.loads(pickle.dumps(ref)) == ref


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sha256", "invalid checksum digest format"),
        ("sha256:", "invalid checksum digest format"),
        (":" + HEX64, "invalid checksum digest format"),
        ("sha256:" + HEX64[:-1], "invalid checksum digest length"),
        ("sha256:" + HEX64.upper(), "invalid checksum digest format"),
        ("sha256:" + "g" * 64, "invalid checksum digest format"),
        ("sha512:" + HEX64, "invalid checksum digest length"),
        ("md5:" + "a" * 32, "unsupported digest algorithm"),
        ("MD5:" + "a" * 32, "invalid checksum digest format"),
    ],
)
def test_parse_digest_rejects_like_go_digest(text, message):
    with pytest.raises(InvalidParameter) as exc:
        parse_digest(text)
    assert str(exc.value) == message


@pytest.mark.parametrize("text", [SHA256, SHA512, "sha384:" + "0" * 96])
def test_parse_digest_accepts_registered_algorithms(text):
    assert parse_digest(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEX64, True),
        (SHA256, True),
        (SHA512, True),
        (HEX64[:12], False),  # a short ID parses as a name; callers search prefixes themselves
        (HEX64.upper(), False),
        (f"sha256:{HEX64[:-1]}", False),
        ("busybox", False),
        (f"busybox@{SHA256}", False),
    ],
)
def test_is_digest_id(text, expected):
    assert is_digest_id(text) is expected


# Generators for the grammar in the module docstring, kept small so paths stay under the length limit.
_alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_separator = st.sampled_from([".", "_", "__", "-", "--", "---"])
_path_component = st.builds(
    lambda first, rest: first + "".join(sep + part for sep, part in rest),
    _alnum,
    st.lists(st.tuples(_separator, _alnum), max_size=3),
)
_path = st.lists(_path_component, min_size=1, max_size=4).map("/".join)
_domain_component = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?", fullmatch=True)
_domain_name = st.lists(_domain_component, min_size=1, max_size=3).map(".".join)
_ipv6 = st.ip_addresses(v=6).map(str).filter(lambda a: "." not in a).map(lambda a: f"[{a}]")
_host = st.one_of(_domain_name, _ipv6, st.just("localhost"))
_domain = st.builds(
    lambda host, port: host + port, _host, st.one_of(st.just(""), st.from_regex(r":[0-9]{1,5}", fullmatch=True))
)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True) | st.from_regex(
    r"[a-z][a-z.-]{127}", fullmatch=True
)
_hex = "0123456789abcdef"
_digest = st.one_of(
    st.text(_hex, min_size=64, max_size=64).map(lambda h: f"sha256:{h}"),
    st.text(_hex, min_size=128, max_size=128).map(lambda h: f"sha512:{h}"),
)
_references = st.tuples(st.none() | _domain, _path, st.none() | _tag, st.none() | _digest)


def _text(domain, path, tag, digest):
    return (f"{domain}/" if domain else "") + path + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _expected_name(domain, path):
    # docker's rule for the first component, written out independently of the module.
    full = f"{domain}/{path}" if domain else path
    first, slash, rest = full.partition("/")
    if slash and (first == "localhost" or "." in first or ":" in first or first != first.lower()):
        if "_" in first:  # "a_b.c" looks like a host but is not one: docker's quirk keeps it all as a path
            return "", full
        domain, path = first, rest
    else:
        domain, path = "docker.io", full
    return domain, path if domain != "docker.io" or "/" in path else f"library/{path}"


@settings(max_examples=400)
@given(_references)
@example(("docker.io", "x", None, None))
@example((None, "a_b.c/x", "t", None))
def test_any_grammatical_reference_parses_to_what_it_says(parts):
    domain, path, tag, digest = parts
    ref = parse(_text(domain, path, tag, digest))
    expected_tag = tag if tag or digest else "latest"
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (*_expected_name(domain, path), expected_tag, digest)


@settings(max_examples=400)
@given(_references, st.booleans())
def test_parsing_is_a_fixed_point_of_str_and_familiar(parts, default_tag):
    ref = parse(_text(*parts), default_tag=default_tag)
    assert str(parse(str(ref), default_tag=default_tag)) == str(ref)
    assert parse(ref.familiar(), default_tag=default_tag) == ref
    assert parse(ref.familiar_name, default_tag=False).name == ref.name


@settings(max_examples=200)
@given(_references, _tag, _digest)
def test_with_tag_and_with_digest_round_trip(parts, tag, digest):
    ref = parse(_text(*parts)).with_tag(tag).with_digest(digest)
    assert (ref.tag, ref.digest) == (tag, digest)
    assert parse(str(ref)) == ref


_junk_alphabet = "abcAZ09:/@._-[]%$ \n\u00e9"


@settings(max_examples=1000)
@given(st.one_of(st.text(), st.text(_junk_alphabet, max_size=40)))
def test_junk_only_ever_raises_invalid_parameter(text):
    try:
        ref = parse(text)
    except InvalidParameter:
        pass
    else:
        assert parse(str(ref)) == ref
    assert isinstance(is_digest_id(text), bool)
    try:
        assert parse_digest(text) == text
    except InvalidParameter:
        pass


@given(_references, st.data())
def test_an_uppercase_letter_in_the_repository_is_refused(parts, data):
    domain, path, tag, digest = parts
    # Put the capital in the last component, which is never taken for a registry.
    i = data.draw(st.integers(path.rfind("/") + 1, len(path) - 1))
    path = path[:i] + path[i].upper() + path[i + 1 :]
    if path == path.lower():  # a digit or separator: nothing to capitalise
        return
    with pytest.raises(InvalidParameter, match="must be lowercase"):
        parse(_text(domain, path, tag, digest))
