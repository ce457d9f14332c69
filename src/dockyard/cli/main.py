"""Entry point of the `dockyard` command: docker's verbs over the Engine API, plus `daemon` and `bootstrap`.

Start-up time is benchmarked (`--help` under 60 ms, `ps` within 2x of the Go CLI):
this module imports nothing beyond os and sys, and a command's module is imported
only when that command runs (dockyard.cli.registry says which).
"""

from __future__ import annotations

import os
import sys

DAEMON_USAGE = """\
Engine commands:
  daemon [-H unix://PATH] [--data-root DIR] [--exec-root DIR] [--config-file FILE] ...
                                         serve the Docker Engine API (docker and docker-py
                                         work against it); `dockyard daemon --help` for flags
  bootstrap busybox[:TAG] [--data-root DIR | --oci-layout DIR]
                                         make a busybox image from Debian's busybox-static
                                         package and store it, tagged, in the data root
                                         (default /var/lib/dockyard) or write an OCI layout
  bootstrap debian:SUITE [--data-root DIR | --oci-layout DIR] [--variant minbase|buildd|default]
            [--mirror URL]               make a Debian image (SUITE: bookworm, trixie, stable...)
                                         with debootstrap; the mirror defaults to
                                         $DOCKYARD_DEBIAN_MIRROR, else the host's apt sources

The OCI runtime is a command of its own: dockyard-runtime --help
"""

BOOTSTRAP_CACHE = "/var/cache/dockyard/bootstrap"
DATA_ROOT = "/var/lib/dockyard"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-v"]):
        from dockyard import __version__

        print(f"Dockyard version {__version__}")
        return 0
    if argv[:1] == ["bootstrap"]:
        return _bootstrap(argv[1:])
    if argv[:1] == ["daemon"]:
        return _daemon(argv[1:])
    from dockyard.cli import dispatch

    return dispatch.run(argv, DAEMON_USAGE)


def run_and_exit() -> None:
    """The launcher's entry: main(), and for the client commands no interpreter teardown.

    A client command (ps, run, logs...) runs with the cyclic garbage collector off and
    leaves by os._exit after flushing: the collector's passes over the imports and 100 ps
    rows cost ≈ 1 ms and finalisation ≈ 1.5 ms, and these commands make next to no
    reference cycles (a failing template leaves a few, once). The daemon and bootstrap
    run long or hold resources that finalisation releases: they keep both.
    """
    argv = sys.argv[1:]
    if argv[:1] in (["daemon"], ["bootstrap"]):
        sys.exit(main(argv))
    import gc

    gc.disable()
    code = main(argv)
    try:
        # dispatch drops stdout when its reader has gone (`dockyard ps | head`).
        if sys.stdout is not None:
            sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(code)


def _bootstrap(argv: list[str]) -> int:
    _add_site_packages()
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="dockyard bootstrap", description="make a base image without a registry")
    parser.add_argument("image", metavar="IMAGE", help="busybox[:TAG] or debian:SUITE (the tag is the suite)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--data-root",
        metavar="DIR",
        default=os.environ.get("DOCKYARD_DATA_ROOT", DATA_ROOT),
        help="store the image in this data root's image store (default $DOCKYARD_DATA_ROOT or %(default)s)",
    )
    where.add_argument("--oci-layout", metavar="DIR", help="write the image as an OCI layout here instead")
    parser.add_argument("--tag", help="tag the image TAG instead")
    parser.add_argument("--variant", help="debian: debootstrap's variant, minbase (the default), buildd or default")
    parser.add_argument("--mirror", metavar="URL", help="debian: the Debian mirror to install from")
    args = parser.parse_args(argv)
    from dockyard.errors import DockyardError
    from dockyard.image import reference

    try:
        ref = reference.parse(args.image, default_tag=False)
    except DockyardError as exc:
        parser.error(f"argument IMAGE: {exc}")
    name, tag = ref.familiar_name, ref.tag
    if ref.digest:
        parser.error("argument IMAGE: a bootstrapped image gets a tag, not a digest")
    if name not in ("busybox", "debian"):
        parser.error(f"argument IMAGE: invalid choice: {name!r} (choose from busybox[:TAG], debian:SUITE)")
    if name == "debian" and not tag:
        parser.error("argument IMAGE: say which Debian suite: debian:bookworm, debian:trixie, debian:stable...")
    if name == "busybox" and (args.variant or args.mirror):
        parser.error("--variant and --mirror are for debian images")
    tag = args.tag or tag or "latest"
    cache = os.environ.get("DOCKYARD_BOOTSTRAP_CACHE", BOOTSTRAP_CACHE)
    # A plain `kill` must unwind like ^C does, so a half-made rootfs and its mounts are cleaned up.
    signal.signal(signal.SIGTERM, _exit_on_signal)

    def write_layout(dest: str) -> str:
        if name == "busybox":
            from dockyard.image.bootstrap import busybox_image

            return busybox_image(dest, cache, tag=tag)
        from dockyard.image.debian import debian_image

        variant = args.variant or "minbase"
        return debian_image(dest, ref.tag, cache, variant=variant, mirror=args.mirror, tag=tag, progress=sys.stderr)

    try:
        if args.oci_layout:
            print(f"{name}:{tag} {write_layout(args.oci_layout)} written to {args.oci_layout}")
        else:
            for line in _store_bootstrapped(args.data_root, f"{name}:{tag}", write_layout):
                print(line)
    except (DockyardError, OSError) as exc:
        sys.stderr.write(f"dockyard: bootstrap {name}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"dockyard: bootstrap {name}: interrupted; nothing was kept\n")
        return 130
    return 0


def _daemon(argv: list[str]) -> int:
    _add_site_packages()
    from dockyard.daemon import config, server
    from dockyard.errors import DockyardError

    try:
        server.run(config.load(argv))
    except (DockyardError, OSError) as exc:
        sys.stderr.write(f"dockyard daemon: {exc}\n")
        return 1
    return 0


def _add_site_packages() -> None:
    """What site would have done: the launcher scripts/setup.sh writes runs Python with -S.

    The client commands need only the standard library, and skip site's ≈ 2 ms; the daemon
    and bootstrap import third-party packages (aiohttp, pyroute2, zstandard...) from
    site-packages, with whatever their .pth files set up.
    """
    if sys.flags.no_site:
        import site

        site.main()


def _store_bootstrapped(data_root: str, name: str, write_layout) -> list[str]:
    """Write the image as a layout beside the store, load it under name, drop the layout.

    The store is opened directly: until the engine's daemon exists, nothing else owns it.
    """
    import shutil
    import tempfile

    from dockyard.services.images import ImageService

    os.makedirs(data_root, mode=0o700, exist_ok=True)
    layout = tempfile.mkdtemp(prefix="dy-bootstrap-", dir=data_root)
    try:
        write_layout(layout)
        service = ImageService.open(data_root)
        try:
            return service.load_layout(layout, (name,))
        finally:
            service.close()
    finally:
        shutil.rmtree(layout, ignore_errors=True)


def _exit_on_signal(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)
