"""pyroute2's rtnetlink socket (IPRoute) and its error, without the rest of pyroute2.

pyroute2's package __init__ imports all of its ~300 modules (wireless, NDB, IPDB, IPVS, conntrack…):
about 6 MiB resident in a daemon that needs rtnetlink only, and the engine's idle memory is a target
(docs/benchmarks.md). pyroute2's modules import one another by full path, so the package is registered
here without running its __init__, and IPRoute is imported from its own module. Code elsewhere in the
same process that asks the package itself for a name (`from pyroute2 import NDB`) still gets it: the
first such request runs the real __init__ (PEP 562's module __getattr__).
"""

from __future__ import annotations

import importlib.util
import sys


def _register_package_lazily() -> None:
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None:
        raise ImportError("pyroute2 is not installed")
    package = importlib.util.module_from_spec(spec)

    def attribute(name: str) -> object:
        if importlib.util.find_spec(f"pyroute2.{name}") is not None:  # a module: `from pyroute2 import config`
            return importlib.import_module(f"pyroute2.{name}")
        del package.__dict__["__getattr__"]  # a name of the package's own: run its __init__ after all
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = attribute  # type: ignore[method-assign]
    sys.modules["pyroute2"] = package


_register_package_lazily()

from pyroute2.iproute.linux import IPRoute  # noqa: E402  (after the package is registered)
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402

__all__ = ["IPRoute", "NetlinkError"]
