"""The OCI runtime: bundles in, isolated processes out.

The library API lives in `dockyard.runtime.runtime` (the `Runtime` class) so the
per-container shim can drive containers in-process; `dockyard.runtime.cli` is
runc's command line over the same calls.
"""
