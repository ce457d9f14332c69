"""Entry point of the `dockyard` command.

So far: `version`, and `bootstrap busybox`, which writes an OCI image layout
(loading it into the engine arrives with the image store). The daemon's verbs
arrive with the engine. The OCI runtime has its own command, `dockyard-runtime`.
"""

from __future__ import annotations

import os
import sys

USAGE = """\
usage: dockyard <command>

commands:
  version                                print the version
  bootstrap busybox --oci-layout DIR [--tag TAG]
                                         make a busybox image from Debian's busybox-static
                                         package and write it as an OCI image layout

The OCI runtime is a command of its own: dockyard-runtime --help
"""

BOOTSTRAP_CACHE = "/var/cache/dockyard/bootstrap"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["version"], ["--version"], ["-v"]):
        from dockyard import __version__

        print(f"Dockyard version {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    if argv[0] == "bootstrap":
        return _bootstrap(argv[1:])
    sys.stderr.write(f"dockyard: unknown command {argv[0]!r}\nSee 'dockyard --help'.\n")
    return 2


def _bootstrap(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="dockyard bootstrap", description="make a base image without a registry")
    parser.add_argument("image", choices=["busybox"], help="the image to make")
    parser.add_argument("--oci-layout", required=True, metavar="DIR", help="write the image as an OCI layout here")
    parser.add_argument("--tag", default="latest")
    args = parser.parse_args(argv)
    from dockyard.errors import DockyardError
    from dockyard.image.bootstrap import busybox_image

    try:
        digest = busybox_image(
            args.oci_layout, os.environ.get("DOCKYARD_BOOTSTRAP_CACHE", BOOTSTRAP_CACHE), tag=args.tag
        )
    except (DockyardError, OSError) as exc:
        sys.stderr.write(f"dockyard: bootstrap busybox: {exc}\n")
        return 1
    print(f"{args.image}:{args.tag} {digest} written to {args.oci_layout}")
    return 0
