"""The object that drives a container's runtime, from what the shim and exec requests carry.

Apart from dockyard.runtime.runtimes (the daemon's table of runtimes), because the shim template
preloads this for its forks: the table's dataclasses would bring inspect, ast and dis into the
template (≈ 2 MiB resident), which the daemon's idle memory pays for.
"""

from __future__ import annotations


def open_runtime(root: str, command: list[str] | None = None):
    """The object that drives a runtime (dockyard.core.runtime.OCIRuntime): Dockyard's own without a command,
    else the one with runc's command line."""
    if command is None:
        from dockyard.runtime.runtime import Runtime

        return Runtime(root)
    from dockyard.runtime.oci_cli import OciCliRuntime

    return OciCliRuntime(command, root)
