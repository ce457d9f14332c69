"""Which module implements which command, and the summaries `dockyard --help` lists.

Only names and strings live here, so `--help` and the dispatch import no command code.
A module under dockyard.cli.commands exposes COMMANDS: {name: (flags.Command, handler)}.
"""

from __future__ import annotations

# name -> (module, summary); the names docker lists under "Common Commands" and "Commands".
COMMON = {
    "run": ("run", "Create and run a new container from an image"),
    "exec": ("execs", "Execute a command in a running container"),
    "ps": ("ps", "List containers"),
    "pull": ("images", "Download an image from a registry"),
    "push": ("images", "Upload an image to a registry"),
    "images": ("images", "List images"),
    "login": ("images", "Authenticate to a registry"),
    "logout": ("images", "Log out from a registry"),
    "version": ("system", "Show the Dockyard version information"),
    "info": ("system", "Display system-wide information"),
}
OTHERS = {
    "attach": ("execs", "Attach local standard input, output, and error streams to a running container"),
    "commit": ("files", "Create a new image from a container's changes"),
    "cp": ("files", "Copy files/folders between a container and the local filesystem"),
    "create": ("run", "Create a new container"),
    "diff": ("containers", "Inspect changes to files or directories on a container's filesystem"),
    "events": ("system", "Get real time events from the server"),
    "export": ("files", "Export a container's filesystem as a tar archive"),
    "history": ("images", "Show the history of an image"),
    "import": ("files", "Import the contents from a tarball to create a filesystem image"),
    "inspect": ("inspect", "Return low-level information on Docker objects"),
    "kill": ("containers", "Kill one or more running containers"),
    "load": ("files", "Load an image from a tar archive or STDIN"),
    "logs": ("execs", "Fetch the logs of a container"),
    "pause": ("containers", "Pause all processes within one or more containers"),
    "port": ("containers", "List port mappings or a specific mapping for the container"),
    "rename": ("containers", "Rename a container"),
    "restart": ("containers", "Restart one or more containers"),
    "rm": ("containers", "Remove one or more containers"),
    "rmi": ("images", "Remove one or more images"),
    "save": ("files", "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    "start": ("execs", "Start one or more stopped containers"),
    "stats": ("containers", "Display a live stream of container(s) resource usage statistics"),
    "stop": ("containers", "Stop one or more running containers"),
    "tag": ("images", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "top": ("containers", "Display the running processes of a container"),
    "unpause": ("containers", "Unpause all processes within one or more containers"),
    "update": ("containers", "Update configuration of one or more containers"),
    "wait": ("containers", "Block until one or more containers stop, then print their exit codes"),
    "completion": ("completion", "Generate the autocompletion script for bash or zsh"),
}
TOP = {**COMMON, **OTHERS}

# management command -> {subcommand: the command it runs}
GROUPS = {
    "container": (
        "Manage containers",
        {
            **{name: name for name in ("attach", "commit", "cp", "create", "diff", "exec", "export", "kill")},
            **{name: name for name in ("logs", "pause", "port", "rename", "restart", "rm", "run", "start")},
            **{name: name for name in ("stats", "stop", "top", "unpause", "update", "wait")},
            "inspect": "container inspect",
            "ls": "ps",
            "list": "ps",
            "ps": "ps",
            "prune": "container prune",
        },
    ),
    "image": (
        "Manage images",
        {
            **{name: name for name in ("history", "import", "load", "pull", "push", "save", "tag")},
            "inspect": "image inspect",
            "ls": "images",
            "list": "images",
            "rm": "rmi",
            "remove": "rmi",
            "prune": "image prune",
        },
    ),
    "volume": ("Manage volumes", {name: f"volume {name}" for name in ("create", "inspect", "ls", "prune", "rm")}),
    "network": (
        "Manage networks",
        {name: f"network {name}" for name in ("connect", "create", "disconnect", "inspect", "ls", "prune", "rm")},
    ),
    "system": (
        "Manage Dockyard",
        {"df": "system df", "prune": "system prune", "info": "info", "events": "events"},
    ),
}
# Commands reachable only inside a group: name -> (module, summary).
GROUPED = {
    "container inspect": ("inspect", "Display detailed information on one or more containers"),
    "container prune": ("containers", "Remove all stopped containers"),
    "image inspect": ("inspect", "Display detailed information on one or more images"),
    "image prune": ("images", "Remove unused images"),
    "volume create": ("volumes", "Create a volume"),
    "volume inspect": ("volumes", "Display detailed information on one or more volumes"),
    "volume ls": ("volumes", "List volumes"),
    "volume prune": ("volumes", "Remove unused local volumes"),
    "volume rm": ("volumes", "Remove one or more volumes"),
    "network connect": ("networks", "Connect a container to a network"),
    "network create": ("networks", "Create a network"),
    "network disconnect": ("networks", "Disconnect a container from a network"),
    "network inspect": ("networks", "Display detailed information on one or more networks"),
    "network ls": ("networks", "List networks"),
    "network prune": ("networks", "Remove all unused networks"),
    "network rm": ("networks", "Remove one or more networks"),
    "system df": ("system", "Show docker disk usage"),
    "system prune": ("system", "Remove unused data"),
}


def module_of(name: str) -> str:
    return (TOP.get(name) or GROUPED[name])[0]


def summary_of(name: str) -> str:
    return (TOP.get(name) or GROUPED[name])[1]
