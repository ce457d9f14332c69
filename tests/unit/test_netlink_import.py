"""dockyard.network.netlink: IPRoute without the rest of pyroute2 (the daemon's idle memory), the rest on demand."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
from dockyard.network.netlink import IPRoute, NetlinkError
light = sorted(m for m in sys.modules if m.startswith("pyroute2"))
assert "pyroute2.ndb.main" not in light and "pyroute2.netlink.nl80211" not in light, light
with IPRoute() as ipr:
    assert any(link.get("IFLA_IFNAME") == "lo" for link in ipr.get_links())
from pyroute2 import NDB, config  # a name of the package's own runs its __init__ after all; modules do not
import pyroute2
assert pyroute2.IPRoute is IPRoute and pyroute2.NetlinkError is NetlinkError and NDB is pyroute2.NDB
print(len(light))
"""


def test_iproute_comes_without_the_rest_of_pyroute2_and_the_rest_still_comes_on_demand():
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) < 120  # of pyroute2's ~300 modules
