"""Image verbs: images, rmi, tag, history, pull, push, image prune, login, logout."""

from __future__ import annotations

import sys
from datetime import UTC

from dockyard.cli import credentials, output, progress
from dockyard.cli.batch import confirm, pruned, reclaimed
from dockyard.cli.client import APIError
from dockyard.cli.filters import filters_param
from dockyard.cli.flags import BOOL, LIST, STRING, Command, Flag, UsageError
from dockyard.units import human_size

FORMAT = Flag("format", "", STRING, "Format output using a custom template")
NO_TRUNC = Flag("no-trunc", "", BOOL, "Don't truncate output")
IMAGES = Command(
    "images",
    "[OPTIONS] [REPOSITORY[:TAG]]",
    "List images",
    (
        Flag("all", "a", BOOL, "Show all images (default hides intermediate images)"),
        Flag("digests", "", BOOL, "Show digests"),
        Flag("filter", "f", LIST, "Filter output based on conditions provided", type_name="filter"),
        FORMAT,
        NO_TRUNC,
        Flag("quiet", "q", BOOL, "Only show image IDs"),
    ),
    ("image ls", "image list", "images"),
    max_args=1,
)
RMI = Command(
    "rmi",
    "[OPTIONS] IMAGE [IMAGE...]",
    "Remove one or more images",
    (
        Flag("force", "f", BOOL, "Force removal of the image"),
        Flag("no-prune", "", BOOL, "Do not delete untagged parents"),
    ),
    ("image rm", "image remove", "rmi"),
    min_args=1,
)
TAG = Command(
    "tag",
    "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
    "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    aliases=("image tag", "tag"),
    min_args=2,
    max_args=2,
)
HISTORY = Command(
    "history",
    "[OPTIONS] IMAGE",
    "Show the history of an image",
    (
        Flag("human", "H", BOOL, "Print sizes and dates in human readable format", default=True),
        NO_TRUNC,
        Flag("quiet", "q", BOOL, "Only show image IDs"),
    ),
    ("image history", "history"),
    min_args=1,
    max_args=1,
)
PULL = Command(
    "pull",
    "[OPTIONS] NAME[:TAG|@DIGEST]",
    "Download an image from a registry",
    (
        Flag("all-tags", "a", BOOL, "Download all tagged images in the repository"),
        Flag("platform", "", STRING, "Set platform if server is multi-platform capable"),
        Flag("quiet", "q", BOOL, "Suppress verbose output"),
    ),
    ("image pull", "pull"),
    min_args=1,
    max_args=1,
)
PUSH = Command(
    "push",
    "[OPTIONS] NAME[:TAG]",
    "Upload an image to a registry",
    (
        Flag("all-tags", "a", BOOL, "Push all tags of an image to the repository"),
        Flag("quiet", "q", BOOL, "Suppress verbose output"),
    ),
    ("image push", "push"),
    min_args=1,
    max_args=1,
)
PRUNE = Command(
    "image prune",
    "[OPTIONS]",
    "Remove unused images",
    (
        Flag("all", "a", BOOL, "Remove all unused images, not just dangling ones"),
        Flag("filter", "", LIST, 'Provide filter values (e.g. "until=<timestamp>")', type_name="filter"),
        Flag("force", "f", BOOL, "Do not prompt for confirmation"),
    ),
    max_args=0,
)
LOGIN = Command(
    "login",
    "[OPTIONS] [SERVER]",
    "Authenticate to a registry",
    (
        Flag("password", "p", STRING, "Password"),
        Flag("password-stdin", "", BOOL, "Take the password from stdin"),
        Flag("username", "u", STRING, "Username"),
    ),
    max_args=1,
)
LOGOUT = Command("logout", "[SERVER]", "Log out from a registry", max_args=1)


def images(context, opts, args) -> int:
    from dockyard.cli import templates

    filters = list(opts.filter) + ([f"reference={args[0]}"] if args else [])
    params = {"all": "1" if opts.all else None, "filters": filters_param(filters)}
    found = context.client.get_json("/images/json", params)
    text = "table" if opts.quiet or not opts.format else opts.format
    templates.print_list(
        text, found, "image", quiet=opts.quiet, trunc=not opts.no_trunc, digests=opts.digests and not opts.quiet
    )
    return 0


def rmi(context, opts, args) -> int:
    params = {"force": "1" if opts.force else None, "noprune": "1" if opts.no_prune else None}
    failed = False
    for name in args:
        try:
            answer = context.client.call("DELETE", f"/images/{name}", params)
        except APIError as exc:
            sys.stderr.write(f"{exc}\n")
            failed = True
            continue
        for item in answer or ():
            for kind, value in item.items():
                output.write(f"{kind}: {value}\n")
    return 1 if failed else 0


def tag(context, _opts, args) -> int:
    source, target = args
    repository, tag_name = progress.split_reference(target)
    context.client.call("POST", f"/images/{source}/tag", {"repo": repository, "tag": tag_name})
    return 0


def history(context, opts, args) -> int:
    from dockyard.cli.formatting.display import ago, ellipsis, truncate_id

    layers = context.client.get_json(f"/images/{args[0]}/history")
    trunc = not opts.no_trunc
    if opts.quiet:
        output.write("".join(f"{truncate_id(layer['Id']) if trunc else layer['Id']}\n" for layer in layers))
        return 0
    rows = [["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]]
    for layer in layers:
        layer_id = layer["Id"]
        shown_id = "<missing>" if layer_id == "<missing>" else truncate_id(layer_id) if trunc else layer_id
        created_by = " ".join((layer.get("CreatedBy") or "").split()) if trunc else layer.get("CreatedBy") or ""
        if opts.human:
            created, size = ago(layer["Created"]), human_size(layer.get("Size") or 0, 3)
        else:
            from datetime import datetime

            created = datetime.fromtimestamp(layer["Created"], UTC).astimezone().isoformat()
            size = str(layer.get("Size") or 0)
        rows.append(
            [
                shown_id,
                created,
                ellipsis(created_by, 45) if trunc else created_by,
                size,
                layer.get("Comment") or "",
            ]
        )
    output.write(output.table(rows))
    return 0


def pull(context, opts, args) -> int:
    image = args[0]
    if opts.all_tags and (":" in image.rsplit("/", 1)[-1] or "@" in image):
        raise UsageError("tag can't be used with --all-tags/-a")
    name, tag_name = progress.split_reference(image)
    if not opts.all_tags and "@" not in image and ":" not in image.rsplit("/", 1)[-1]:
        output.write("Using default tag: latest\n")
    progress.pull(
        context.client, image if not opts.all_tags else name, platform=opts.platform, quiet=opts.quiet, out=sys.stdout
    )
    separator = "@" if tag_name.startswith("sha256:") else ":"
    output.write(f"{name}{separator}{tag_name}\n")
    return 0


def push(context, opts, args) -> int:
    name, tag_name = progress.split_reference(args[0])
    params = {"tag": None if opts.all_tags else tag_name}
    auth = credentials.for_image(name) or {}
    headers = {"X-Registry-Auth": credentials.encode(auth)}
    with context.client.stream("POST", f"/images/{name}/push", params, headers=headers) as response:
        messages = response.json_lines()
        progress.show(messages if not opts.quiet else (m for m in messages if m.get("error")), sys.stdout)
    return 0


def prune(context, opts, _args) -> int:
    warning = (
        "WARNING! This will remove all images without at least one container associated to them."
        if opts.all
        else "WARNING! This will remove all dangling images."
    )
    if not confirm(warning, opts.force):
        return 0
    filters = list(opts.filter) + (["dangling=false"] if opts.all else [])
    answer = context.client.call("POST", "/images/prune", {"filters": filters_param(filters)})
    deleted = answer.get("ImagesDeleted") or []
    output.write(pruned("Deleted Images:", deleted) + reclaimed(answer.get("SpaceReclaimed") or 0))
    return 0


def login(context, opts, args) -> int:
    server = args[0] if args else credentials.DEFAULT_REGISTRY
    password = opts.password
    if opts.password_stdin:
        if opts.password:
            raise UsageError("--password and --password-stdin are mutually exclusive")
        if not opts.username:
            raise UsageError("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    username = opts.username or input("Username: ").strip()
    if password is None:
        import getpass

        password = getpass.getpass("Password: ")
    body = {"username": username, "password": password, "serveraddress": server}
    answer = context.client.call("POST", "/auth", body=body) or {}
    credentials.store(server, username, password)
    output.write(f"{answer.get('Status') or 'Login Succeeded'}\n")
    return 0


def logout(_context, _opts, args) -> int:
    server = args[0] if args else credentials.DEFAULT_REGISTRY
    if credentials.forget(server):
        output.write(f"Removing login credentials for {server}\n")
    else:
        output.write(f"Not logged in to {server}\n")
    return 0


COMMANDS = {
    "images": (IMAGES, images),
    "rmi": (RMI, rmi),
    "tag": (TAG, tag),
    "history": (HISTORY, history),
    "pull": (PULL, pull),
    "push": (PUSH, push),
    "image prune": (PRUNE, prune),
    "login": (LOGIN, login),
    "logout": (LOGOUT, logout),
}
