"""Choosing the Debian mirror from apt's sources, checking what debootstrap is given, and the bootstrap CLI."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.cli.main import main
from dockyard.errors import InvalidParameter, Unavailable
from dockyard.image import debian
from dockyard.image.apt_sources import (
    MIRROR_ENV,
    Source,
    check_mirror,
    find_mirror,
    parse_deb822_sources,
    parse_sources_list,
    read_apt_sources,
    resolve_mirror,
)
from dockyard.image.debian import check_suite, check_variant
from dockyard.kernel.mounts import mount_points_under

# --- one-line format -------------------------------------------------------------------------------------------


def test_one_line_entries_with_comments_and_options():
    text = """\
# the main archive
deb http://ftp.example.org/debian bookworm main contrib
deb-src http://ftp.example.org/debian bookworm main

deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] http://ftp.example.org/debian bookworm-updates main  # updates
deb [ arch=amd64,arm64 trusted=yes ] https://mirror.example.net/debian/ trixie main
deb [arch+=i386] file:///srv/mirror sid main
"""
    entries = parse_sources_list(text)

    assert entries[0] == Source(("deb",), ("http://ftp.example.org/debian",), ("bookworm",), ("main", "contrib"))
    assert entries[1].types == ("deb-src",)
    assert entries[2].suites == ("bookworm-updates",)
    assert entries[2].components == ("main",)  # the trailing comment is not a component
    assert dict(entries[2].options) == {"arch": "amd64", "signed-by": "/usr/share/keyrings/debian.gpg"}
    assert entries[3].uris == ("https://mirror.example.net/debian/",)
    assert dict(entries[3].options) == {"arch": "amd64,arm64", "trusted": "yes"}
    assert dict(entries[4].options) == {"arch": "i386"}
    assert len(entries) == 5


def test_one_line_lines_without_a_suite_or_commented_out_are_skipped():
    text = "deb http://ftp.example.org/debian\n#deb http://ftp.example.org/debian bookworm main\n   \n"
    assert parse_sources_list(text) == []


# --- deb822 format ---------------------------------------------------------------------------------------------

DEB822 = """\
Types: deb deb-src
# a comment inside a stanza does not end it
URIs: http://ftp.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://ftp.example.org/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://disabled.example.org/debian
Suites: trixie
Components: main
Enabled: no

types: deb
uris: http://second.example.org/debian
  http://third.example.org/debian
suites: sid
components: main
signed-by:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGRe...
 -----END PGP PUBLIC KEY BLOCK-----
"""


def test_deb822_stanzas_multiple_suites_comments_and_disabled_entries():
    entries = parse_deb822_sources(DEB822)

    assert [e.suites for e in entries] == [("bookworm", "bookworm-updates"), ("bookworm-security",), ("sid",)]
    assert entries[0].types == ("deb", "deb-src")
    assert dict(entries[0].options) == {"signed-by": "/usr/share/keyrings/debian-archive-keyring.gpg"}


def test_deb822_field_names_are_case_insensitive_and_values_continue_on_indented_lines():
    sid = parse_deb822_sources(DEB822)[-1]

    assert sid.uris == ("http://second.example.org/debian", "http://third.example.org/debian")
    assert dict(sid.options)["signed-by"].splitlines()[1] == "-----BEGIN PGP PUBLIC KEY BLOCK-----"


# --- choosing the mirror ---------------------------------------------------------------------------------------


def entry(uri: str, *suites: str, types: tuple[str, ...] = ("deb",)) -> Source:
    return Source(types, (uri,), suites, ("main",))


def test_a_source_listing_the_suite_itself_wins_over_an_earlier_one_of_its_family():
    sources = [entry("http://updates.example.org/debian", "bookworm-updates"), entry("http://a.example/d", "bookworm")]
    assert find_mirror(sources, "bookworm") == "http://a.example/d"


def test_a_suite_of_the_same_release_serves_when_the_suite_itself_is_not_listed():
    sources = [entry("http://a.example/debian/", "bookworm-updates", "bookworm-backports")]
    assert find_mirror(sources, "bookworm") == "http://a.example/debian"


def test_the_security_archive_never_serves_a_bootstrap():
    sources = [entry("http://a.example/debian-security", "bookworm-security")]
    assert find_mirror(sources, "bookworm") is None


def test_any_debian_mirror_serves_another_debian_release():
    sources = [entry("http://a.example/debian-security", "bookworm-security"), entry("http://b.example/d", "bookworm")]
    assert find_mirror(sources, "trixie") == "http://b.example/d"
    assert find_mirror(sources, "stable") == "http://b.example/d"


def test_a_suite_that_is_not_debian_needs_a_source_of_its_own():
    sources = [entry("http://b.example/debian", "bookworm"), entry("http://c.example/cloud", "cloud-sdk-bookworm")]
    assert find_mirror(sources, "jammy") is None
    assert find_mirror([entry("http://c.example/cloud", "cloud-sdk-bookworm")], "bookworm") is None


def test_source_packages_and_uris_debootstrap_cannot_fetch_from_are_passed_over():
    sources = [
        entry("http://src.example/debian", "bookworm", types=("deb-src",)),
        entry("cdrom:[Debian 12]/", "bookworm"),
        entry("mirror+file:/etc/apt/mirrors.txt", "bookworm"),
        entry("file:///srv/mirror/", "bookworm"),
    ]
    assert find_mirror(sources, "bookworm") == "file:///srv/mirror"


def write(path, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def test_host_sources_are_read_in_apt_order_and_other_files_ignored(tmp_path):
    etc = tmp_path / "apt"
    write(etc / "sources.list", "deb http://one.example/debian bookworm main\n")
    write(etc / "sources.list.d" / "b.sources", "Types: deb\nURIs: http://three.example/debian\nSuites: trixie\n")
    write(etc / "sources.list.d" / "a.list", "deb http://two.example/debian sid main\n")
    write(etc / "sources.list.d" / "c.list.disabled", "deb http://nope.example/debian trixie main\n")
    write(etc / "sources.list.d" / "d.list.save", "deb http://nope.example/debian trixie main\n")

    assert [s.uris[0] for s in read_apt_sources(str(etc))] == [
        "http://one.example/debian",
        "http://two.example/debian",
        "http://three.example/debian",
    ]


def test_the_mirror_comes_from_the_caller_then_the_environment_then_the_host(tmp_path):
    etc = tmp_path / "apt"
    write(etc / "sources.list.d" / "debian.sources", "Types: deb\nURIs: http://host.example/debian\nSuites: bookworm\n")

    host = resolve_mirror("bookworm", environ={}, etc_apt=str(etc))
    env = resolve_mirror("bookworm", environ={MIRROR_ENV: "http://env.example/debian/"}, etc_apt=str(etc))
    given_ = resolve_mirror("bookworm", "http://mine.example/d", environ={MIRROR_ENV: "http://env.example/d"})

    assert (host, env, given_) == ("http://host.example/debian", "http://env.example/debian", "http://mine.example/d")


def test_no_mirror_anywhere_says_to_pass_one(tmp_path):
    with pytest.raises(Unavailable, match="pass --mirror URL or set DOCKYARD_DEBIAN_MIRROR"):
        resolve_mirror("bookworm", environ={}, etc_apt=str(tmp_path))


def test_a_malformed_mirror_in_the_environment_is_refused():
    with pytest.raises(InvalidParameter, match="invalid Debian mirror"):
        resolve_mirror("bookworm", environ={MIRROR_ENV: "http://x.example/$(reboot)"})


# --- property tests: what we parse is what apt wrote; what we pass debootstrap is inert ------------------------

names = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
uris = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z0-9]{1,10}\.example", fullmatch=True),
    st.from_regex(r"[a-z0-9/]{0,12}", fullmatch=True),
)
option_lists = st.lists(st.tuples(st.sampled_from(["arch", "signed-by", "trusted", "lang"]), names), max_size=3)


@given(uri=uris, suite=names, components=st.lists(names, max_size=3), options=option_lists)
def test_one_line_entries_parse_back_to_what_was_written(uri, suite, components, options):
    rendered = " ".join(f"{k}={v}" for k, v in options)
    line = f"deb {'[' + rendered + '] ' if options else ''}{uri} {suite} {' '.join(components)}  # note"

    assert parse_sources_list(line) == [Source(("deb",), (uri,), (suite,), tuple(components), tuple(options))]


@given(stanzas=st.lists(st.tuples(st.lists(uris, min_size=1, max_size=2), st.lists(names, min_size=1)), max_size=4))
def test_deb822_stanzas_parse_back_to_what_was_written(stanzas):
    text = "\n".join(
        f"Types: deb\nURIs: {' '.join(u)}\n# comment\nSuites: {' '.join(s)}\nComponents: main\n" for u, s in stanzas
    )
    assert [(e.uris, e.suites) for e in parse_deb822_sources(text)] == [(tuple(u), tuple(s)) for u, s in stanzas]


@given(suite=names)
def test_wanted_suite_listed_anywhere_is_found(suite):
    sources = [entry("http://other.example/x", "zzz-other"), entry("http://wanted.example/debian", "x", suite)]
    assert find_mirror(sources, suite) == "http://wanted.example/debian"


SHELL_SPECIAL = set(" \t\n;&|$`'\"\\<>(){}*?!#~")


@given(st.text(max_size=40))
def test_an_accepted_suite_is_a_plain_lowercase_name(text):
    try:
        check_suite(text)
    except InvalidParameter:
        return
    assert text[0].isalpha() and set(text) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


@given(st.text(max_size=60).map(lambda t: "http://mirror.example/" + t))
def test_an_accepted_mirror_has_nothing_a_shell_would_interpret(text):
    try:
        accepted = check_mirror(text)
    except InvalidParameter:
        return
    assert not (set(accepted) & (SHELL_SPECIAL - {"~"}))


@pytest.mark.parametrize("suite", ["bookworm", "trixie", "bullseye", "stable", "oldstable", "sid", "testing"])
def test_real_suite_names_are_accepted(suite):
    assert check_suite(suite) == suite


@pytest.mark.parametrize("suite", ["", "Bookworm", "../etc", "bookworm; rm -rf /", "-v", "bookworm/updates", "a" * 41])
def test_garbage_suites_are_refused(suite):
    with pytest.raises(InvalidParameter, match="invalid Debian suite"):
        check_suite(suite)


def test_variants_are_debootstraps_useful_ones():
    assert [check_variant(v) for v in ("minbase", "buildd", "default")] == ["minbase", "buildd", "default"]
    with pytest.raises(InvalidParameter, match="expected one of minbase, buildd, default"):
        check_variant("fakechroot")


@pytest.mark.parametrize("mirror", ["ftp.example.org/debian", "file:relative", "http:///debian", "gopher://x.example/"])
def test_mirrors_that_are_not_fetchable_urls_are_refused(mirror):
    with pytest.raises(InvalidParameter):
        check_mirror(mirror)


def test_a_host_without_debootstrap_is_told_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(debian, "_PATH", str(tmp_path))  # a PATH with nothing on it
    with pytest.raises(Unavailable, match=r"debootstrap is not installed: .*\(apt-get install debootstrap\)"):
        debian.build_debian_rootfs(str(tmp_path / "rootfs"), "bookworm", mirror="http://a.example/d", cache_dir="/")
    assert os.listdir(tmp_path) == []


# --- mounts under the tree -------------------------------------------------------------------------------------


def test_mount_points_under_a_tree_come_deepest_first_with_escapes_decoded(tmp_path):
    mountinfo = tmp_path / "mountinfo"
    lines = [
        "22 1 0:21 / /proc rw,nosuid - proc proc rw",
        "90 80 0:5 / /srv/dy\\040tree/proc rw - proc proc rw",
        "91 90 0:6 / /srv/dy\\040tree/proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw",
        "92 80 0:7 / /srv/dy\\040tree/sys rw - sysfs sysfs rw",
        "93 80 0:8 / /srv/dy\\040treetop/proc rw - proc proc rw",  # a sibling whose name starts the same
        "94 92 0:9 / /srv/dy\\040tree/sys rw - sysfs sysfs rw",  # stacked on the same point
    ]
    mountinfo.write_text("\n".join(lines) + "\n")

    points = mount_points_under("/srv/dy tree", str(mountinfo))

    assert points[0] == "/srv/dy tree/proc/sys/fs/binfmt_misc"
    assert sorted(points[1:]) == ["/srv/dy tree/proc", "/srv/dy tree/sys"]


# --- trimming never reaches out of the tree --------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="trimming sets the tree's owner to root")
def test_trimming_does_not_follow_symlinks_out_of_the_tree(tmp_path):
    outside = tmp_path / "host"
    write(outside / "resolv.conf", "nameserver 192.0.2.1\n")
    write(outside / "cache" / "keep.bin", "x")
    root = tmp_path / "rootfs"
    for directory in ("etc/apt/apt.conf.d", "var/cache", "var/lib/apt/lists/partial", "usr/sbin", "dev"):
        os.makedirs(root / directory)
    os.symlink(outside / "resolv.conf", root / "etc" / "resolv.conf")
    os.symlink(outside / "cache", root / "var" / "cache" / "apt")
    write(root / "var/lib/apt/lists/ftp.example_dists_bookworm_InRelease", "x")

    debian._trim(str(root))

    assert (outside / "resolv.conf").read_text() == "nameserver 192.0.2.1\n"
    assert (outside / "cache" / "keep.bin").exists()
    assert not (root / "etc" / "resolv.conf").is_symlink() and (root / "etc" / "resolv.conf").read_text() == ""
    assert os.listdir(root / "var/lib/apt/lists") == []
    assert (root / "usr/sbin/policy-rc.d").stat().st_mode & 0o777 == 0o755
    assert oct(root.stat().st_mode & 0o777) == "0o755"


# --- the CLI's arguments ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["alpine"], "invalid choice: 'alpine'"),
        (["debian"], "say which Debian suite"),
        (["busybox", "--variant", "minbase"], "--variant and --mirror are for debian images"),
        (["busybox@sha256:" + "0" * 64], "a tag, not a digest"),
    ],
)
def test_bootstrap_refuses_images_it_cannot_make(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bootstrap", *args, "--oci-layout", str(tmp_path / "out")])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_bootstrap_debian_reports_a_bad_suite_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCKYARD_BOOTSTRAP_CACHE", str(tmp_path / "cache"))
    assert main(["bootstrap", "debian:Bookworm", "--oci-layout", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (
        "dockyard: bootstrap debian: invalid Debian suite 'Bookworm': "
        "expected a name such as bookworm, trixie or stable\n"
    )
