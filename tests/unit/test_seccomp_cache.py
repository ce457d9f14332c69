"""The compiled-filter cache returns exactly what compiling returns, and compiles only what it has not kept."""

from __future__ import annotations

import os

import pytest

from dockyard.kernel import seccomp
from dockyard.runtime import default_seccomp, seccomp_cache
from dockyard.runtime.runtime import Runtime

CAPS = ["CAP_CHOWN", "CAP_NET_RAW"]


@pytest.fixture
def compiles(monkeypatch):
    """The number of real compiles, counted."""
    calls = []
    real = seccomp.compile_filter

    def counted(spec, *args, **kwargs):
        calls.append(spec)
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(seccomp, "compile_filter", counted)
    return calls


def _entries(root) -> list[str]:
    return sorted(os.listdir(root / seccomp_cache.DIRECTORY))


def test_a_second_create_with_the_same_profile_reads_the_program_compiled_by_the_first(tmp_path, compiles):
    profile = default_seccomp.profile(CAPS)
    first = seccomp_cache.compiled(profile, str(tmp_path))
    second = seccomp_cache.compiled(default_seccomp.profile(CAPS), str(tmp_path))
    assert first == second == seccomp.compile_filter(profile)
    assert len(compiles) == 2  # the first create's, and the reference just above
    assert len(_entries(tmp_path)) == 1


def test_profiles_that_differ_get_programs_of_their_own(tmp_path, compiles):
    narrow, wide = default_seccomp.profile(CAPS), default_seccomp.profile([*CAPS, "CAP_SYS_ADMIN"])
    assert seccomp_cache.compiled(narrow, str(tmp_path)) == seccomp.compile_filter(narrow)
    assert seccomp_cache.compiled(wide, str(tmp_path)) == seccomp.compile_filter(wide)
    assert seccomp_cache.compiled(narrow, str(tmp_path)) != seccomp_cache.compiled(wide, str(tmp_path))
    assert len(_entries(tmp_path)) == 2
    assert len(compiles) == 4  # two cached, two references


DAMAGES = {
    "cut short": lambda data: data[: len(data) // 2],
    "a bit flipped": lambda data: data[:-1] + bytes([data[-1] ^ 1]),
    "empty": lambda data: b"",
}


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_damaged_entry_is_compiled_again_and_replaced(tmp_path, compiles, damage):
    profile = default_seccomp.profile(CAPS)
    program = seccomp_cache.compiled(profile, str(tmp_path))
    entry = tmp_path / seccomp_cache.DIRECTORY / _entries(tmp_path)[0]
    entry.write_bytes(damage(entry.read_bytes()))
    assert seccomp_cache.compiled(profile, str(tmp_path)) == program
    assert len(compiles) == 2
    assert seccomp_cache.compiled(profile, str(tmp_path)) == program
    assert len(compiles) == 2  # replaced whole: read again from then on


def test_the_cache_is_not_taken_for_a_container_of_the_runtime(tmp_path):
    seccomp_cache.compiled(default_seccomp.profile(CAPS), str(tmp_path))
    assert Runtime(str(tmp_path)).list() == []
