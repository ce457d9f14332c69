"""dockyard run and create: the create body from the flags, the pull when the image is missing, then
(for run) attach, wait and start in docker's order, and exit with the container's status.

Exit status as docker's: 125 when the daemon refuses (create, start), 126 when the command
cannot be invoked, 127 when it is not found, else the container's own status.
"""

from __future__ import annotations

import sys

from dockyard.cli import runflags
from dockyard.cli.client import APIError, ClientError, check_tty
from dockyard.cli.flags import Command, UsageError

RUN = Command(
    name="run",
    usage="[OPTIONS] IMAGE [COMMAND] [ARG...]",
    summary="Create and run a new container from an image",
    aliases=("container run", "run"),
    flags=tuple(sorted(runflags.CREATE_FLAGS + runflags.RUN_ONLY_FLAGS, key=lambda f: f.long)),
    min_args=1,
    interspersed=False,
)
CREATE = Command(
    name="create",
    usage="[OPTIONS] IMAGE [COMMAND] [ARG...]",
    summary="Create a new container",
    aliases=("container create", "create"),
    flags=runflags.CREATE_FLAGS,
    min_args=1,
    interspersed=False,
)


class RunError(ClientError):
    """A failure of `run` itself, printed as docker prints it ("docker: ...") with 125/126/127."""

    def __init__(self, message: str, status: int = 125) -> None:
        super().__init__(f"dockyard: {message}\n\nRun 'dockyard run --help' for more information")
        self.status = status


def create(context, opts, args) -> int:
    container_id = _create(context, opts, args, detached=False)
    print(container_id)
    return 0


def run(context, opts, args) -> int:
    from dockyard.cli import attach

    try:
        detach_keys = attach.parse_detach_keys(opts.detach_keys)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    if not opts.detach:
        check_tty("stdin" in [s.lower() for s in opts.attach] or opts.interactive, opts.tty)
    client = context.client
    container_id = _create(context, opts, args, detached=opts.detach)
    if opts.detach:
        _start(client, container_id)
        print(container_id)
        return 0
    streams = [s.lower() for s in opts.attach] or ["stdout", "stderr"] + (["stdin"] if opts.interactive else [])
    # The daemon is told the keys too (docker does both): it ends the stream on them, we stop waiting.
    query = {"stream": "1", **{stream: "1" for stream in streams}, "detachKeys": opts.detach_keys or None}
    response = client.hijack(f"/containers/{container_id}/attach", query)
    # Subscribed before the start, so a fast exit is not missed; "removed" waits for --rm's removal too.
    condition = "removed" if opts.rm else "next-exit"
    waiter = client.stream("POST", f"/containers/{container_id}/wait", {"condition": condition})
    session = attach.Attached(
        client,
        response,
        tty=opts.tty,
        stdin="stdin" in streams,
        detach_keys=detach_keys,
        resize_path=f"/containers/{container_id}/resize",
    )
    _start(client, container_id)
    proxy = attach.SignalProxy(client, container_id) if opts.sig_proxy and not opts.tty else None
    try:
        if proxy:
            proxy.__enter__()
        session.run()
    finally:
        if proxy:
            proxy.__exit__(None, None, None)
        response.close()
    if session.detached:
        waiter.close()
        return 0
    with waiter:
        result = waiter.json()
    if (result.get("Error") or {}).get("Message"):
        raise RunError(result["Error"]["Message"])
    return result.get("StatusCode", 0)


def _create(context, opts, args, *, detached: bool) -> str:
    client = context.client
    try:
        params, body = runflags.create_request(opts, args, detached)
    except UsageError as exc:
        raise RunError(str(exc)) from None
    if opts.pull not in ("always", "missing", "never"):
        raise RunError(f'invalid pull option: \'{opts.pull}\': must be one of "always", "missing" or "never"')
    image = args[0]
    if opts.pull == "always":
        _pull(client, image, opts)
    try:
        answer = client.call("POST", "/containers/create", params, body)
    except APIError as exc:
        if exc.status_code != 404 or "No such image" not in exc.message or opts.pull != "missing":
            raise RunError(f"Error response from daemon: {exc.message}") from None
        sys.stderr.write(f"Unable to find image '{_with_tag(image)}' locally\n")
        _pull(client, image, opts)
        try:
            answer = client.call("POST", "/containers/create", params, body)
        except APIError as retry:
            raise RunError(f"Error response from daemon: {retry.message}") from None
    for warning in answer.get("Warnings") or ():
        sys.stderr.write(f"WARNING: {warning}\n")
    if opts.cidfile:
        with open(opts.cidfile, "x") as f:
            f.write(answer["Id"])
    return answer["Id"]


def _start(client, container_id: str) -> None:
    try:
        client.call("POST", f"/containers/{container_id}/start")
    except APIError as exc:
        message = exc.message
        status = 125
        if "executable file not found" in message or "no such file or directory" in message:
            status = 127
        elif "permission denied" in message:
            status = 126
        raise RunError(f"Error response from daemon: {message}", status) from None


def _pull(client, image: str, opts) -> None:
    from dockyard.cli.progress import pull

    try:
        pull(client, image, platform=opts.platform, quiet=opts.quiet, out=sys.stderr)
    except APIError as exc:
        raise RunError(f"Error response from daemon: {exc.message}") from None


def _with_tag(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    return image if ":" in name or "@" in name else f"{image}:latest"


COMMANDS = {"run": (RUN, run), "create": (CREATE, create)}
