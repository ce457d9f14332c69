from __future__ import annotations

from dockyard.kernel import constants as k
from dockyard.kernel import mountopts


def test_flags_propagation_and_data_are_separated():
    flags, propagation, data = mountopts.parse(["nosuid", "rbind", "ro", "rslave", "size=64k", "mode=755"])
    assert flags == k.MS_NOSUID | k.MS_BIND | k.MS_REC | k.MS_RDONLY
    assert propagation == [k.MS_SLAVE | k.MS_REC]
    assert data == ["size=64k", "mode=755"]


def test_later_options_win():
    assert mountopts.parse(["ro", "rw"])[0] == 0
    assert mountopts.parse(["noexec", "exec", "nodev"])[0] == k.MS_NODEV


def test_unimplemented_extensions_are_ignored():
    assert mountopts.parse(["tmpcopyup"]) == (0, [], [])
