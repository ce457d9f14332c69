"""Entry point of the `dockyard` command.

Only `version` exists so far; the daemon's verbs arrive with the engine. The
OCI runtime has its own command, `dockyard-runtime`.
"""

from __future__ import annotations

import sys

USAGE = """\
usage: dockyard <command>

commands:
  version   print the version

The OCI runtime is a command of its own: dockyard-runtime --help
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["version"], ["--version"], ["-v"]):
        from dockyard import __version__

        print(f"Dockyard version {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    sys.stderr.write(f"dockyard: unknown command {argv[0]!r}\nSee 'dockyard --help'.\n")
    return 2
