"""`dockyard-runtime`: runc's command line over the runtime library.

Start-up time is benchmarked against runc, so this module imports only what a
verb needs, when it needs it. Errors print one line on stderr (and a record in
--log when given) and exit 1; `run` and `exec` exit with the process's status.
"""

from __future__ import annotations

import gc
import os
import sys

from dockyard import fastjson

USAGE = """\
usage: dockyard-runtime [global options] <command> [options] <container-id> ...

An OCI runtime with runc's command line.

commands:
  create    create a container (its process waits for start)
  start     run the process of a created container
  run       create and start a container, wait for it, then delete it
  state     print a container's state as JSON
  list      list containers
  kill      send a signal to a container's init (or --all processes)
  delete    delete a container (--force kills a running one)
  exec      run a process in a running container
  ps        list a container's processes
  pause     freeze every process of a container
  resume    thaw a paused container
  spec      write a default config.json
  features  print the features this runtime supports as JSON

global options:
  --root DIR          state directory (default /run/dockyard-runtime)
  --log FILE          append error records to FILE
  --log-format text|json
  --debug             print tracebacks on errors
  --version, -v       print the version
"""


class UsageError(Exception):
    pass


class HelpRequested(Exception):
    pass


class Args:
    """Parsed options: flags by name, positionals in order."""

    def __init__(self) -> None:
        self.flags: dict[str, object] = {}
        self.positional: list[str] = []


# verb -> {flag: kind}; kind is "bool", "str", "int" or "list". Aliases map to the canonical name.
_VERB_FLAGS = {
    "create": {"bundle": "str", "pid-file": "str", "console-socket": "str", "no-pivot": "bool",
               "preserve-fds": "int", "no-new-keyring": "bool"},
    "run": {"bundle": "str", "pid-file": "str", "console-socket": "str", "no-pivot": "bool",
            "preserve-fds": "int", "detach": "bool", "no-new-keyring": "bool", "keep": "bool"},
    "start": {}, "state": {}, "pause": {}, "resume": {},
    "list": {"format": "str", "quiet": "bool"},
    "kill": {"all": "bool"},
    "delete": {"force": "bool"},
    "exec": {"process": "str", "detach": "bool", "pid-file": "str", "console-socket": "str", "tty": "bool",
             "cwd": "str", "env": "list", "user": "str", "cap": "list", "no-new-privs": "bool",
             "preserve-fds": "int", "additional-gids": "list", "apparmor": "str", "process-label": "str"},
    "ps": {"format": "str"},
    "spec": {"bundle": "str", "rootless": "bool"},
    "features": {},
}  # fmt: skip
_ALIASES = {
    "create": {"b": "bundle"},
    "run": {"b": "bundle", "d": "detach"},
    "list": {"f": "format", "q": "quiet"},
    "kill": {"a": "all"},
    "delete": {"f": "force"},
    "exec": {"p": "process", "d": "detach", "t": "tty", "e": "env", "u": "user", "c": "cap", "g": "additional-gids"},
    "ps": {"f": "format"},
    "spec": {"b": "bundle"},
}
_GLOBAL_FLAGS = {"root": "str", "log": "str", "log-format": "str", "debug": "bool", "systemd-cgroup": "bool",
                 "rootless": "str", "criu": "str"}  # fmt: skip


def parse(
    argv: list[str], spec: dict[str, str], *, stop_at_positional: bool, aliases: dict[str, str] | None = None
) -> tuple[Args, list[str]]:
    """Parse flags until the first positional (when stop_at_positional) or '--'."""
    args = Args()
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            args.positional.extend(argv[i + 1 :])
            return args, []
        if word in ("-h", "--help"):
            raise HelpRequested
        if not word.startswith("-") or word == "-":
            if stop_at_positional:
                return args, argv[i:]
            args.positional.append(word)
            i += 1
            continue
        name, eq, value = word.lstrip("-").partition("=")
        name = (aliases or {}).get(name, name)
        if name not in spec:
            raise UsageError(f"flag provided but not defined: {word}")
        kind = spec[name]
        if kind == "bool":
            args.flags[name] = value.lower() not in ("false", "0") if eq else True
        else:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: {word}")
                value = argv[i]
            if kind == "int":
                try:
                    args.flags[name] = int(value)
                except ValueError:
                    raise UsageError(f"invalid value {value!r} for flag {word}") from None
            elif kind == "list":
                args.flags.setdefault(name, []).append(value)  # type: ignore[union-attr]
            else:
                args.flags[name] = value
        i += 1
    return args, []


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-v"], ["version"]):
        from dockyard import __version__
        from dockyard.runtime.spec import OCI_VERSION

        print(f"dockyard-runtime version {__version__}\nspec: {OCI_VERSION}")
        return 0
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 2
    global_args = Args()
    try:
        global_args, rest = parse(argv, _GLOBAL_FLAGS, stop_at_positional=True)
        if not rest:
            raise UsageError("no command given")
        verb = rest[0]
        if verb not in _VERB_FLAGS:
            raise UsageError(f"unknown command {verb!r}")
        # exec and ps pass everything after the id to the process / to ps(1)
        stop = verb in ("exec", "ps")
        verb_args, tail = parse(rest[1:], _VERB_FLAGS[verb], stop_at_positional=stop, aliases=_ALIASES.get(verb))
        verb_args.positional.extend(tail)
        return _dispatch(verb, verb_args, global_args)
    except HelpRequested:
        sys.stdout.write(USAGE)
        return 0
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except UsageError as exc:
        sys.stderr.write(f"dockyard-runtime: {exc}\n(see dockyard-runtime --help)\n")
        return 2
    except Exception as exc:  # every error becomes one line, and a log record
        from dockyard.errors import DockyardError

        if global_args.flags.get("debug") or not isinstance(exc, DockyardError | OSError | _container_error()):
            import traceback

            traceback.print_exc()
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        _log_error(global_args, message)
        sys.stderr.write(f"dockyard-runtime: {message}\n")
        return 1


def _quiet_broken_pipe() -> int:
    """The reader of our output went away (`| head`): not worth a message."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _container_error() -> type:
    from dockyard.runtime.waiting import ContainerError

    return ContainerError


def _log_error(global_args: Args, message: str) -> None:
    path = global_args.flags.get("log")
    if not path:
        return
    import time

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if global_args.flags.get("log-format") == "json":
        line = fastjson.dumps({"level": "error", "msg": message, "time": now})
    else:
        line = f'time="{now}" level=error msg={fastjson.dumps(message)}'
    with open(str(path), "a") as f:
        f.write(line + "\n")


def _indented(value: object) -> str:
    import json  # only for the human-readable layout; fastjson has no indent

    return json.dumps(value, indent=2)


def _print_indented(value: object) -> None:
    print(_indented(value))


def _need_id(args: Args, verb: str) -> str:
    if not args.positional:
        raise UsageError(f"{verb}: a container id is required")
    return args.positional[0]


def _dispatch(verb: str, args: Args, global_args: Args) -> int:
    if verb == "spec":
        return _spec(args)
    if verb == "features":
        from dockyard.runtime.defaults import features

        _print_indented(features())
        return 0
    from dockyard.runtime.runtime import Runtime
    from dockyard.runtime.state import DEFAULT_ROOT

    runtime = Runtime(str(global_args.flags.get("root", DEFAULT_ROOT)))
    flags = args.flags
    if verb == "list":
        return _list(runtime, flags)
    container_id = _need_id(args, verb)
    if verb in ("create", "run"):
        bundle = str(flags.get("bundle", "."))
        options = {
            "console_socket": flags.get("console-socket"),
            "pid_file": flags.get("pid-file"),
            "no_pivot": bool(flags.get("no-pivot")),
            "preserve_fds": int(flags.get("preserve-fds", 0)),  # type: ignore[arg-type]
        }
        if verb == "create":
            runtime.create(container_id, bundle, **options)  # type: ignore[arg-type]
            return 0
        return runtime.run(container_id, bundle, detach=bool(flags.get("detach")), **options)  # type: ignore[arg-type]
    if verb == "start":
        runtime.start(container_id)
    elif verb == "state":
        _print_indented(runtime.state(container_id))
    elif verb == "kill":
        signal_name = args.positional[1] if len(args.positional) > 1 else "SIGTERM"
        runtime.kill(container_id, signal_name, all_processes=bool(flags.get("all")))
    elif verb == "delete":
        runtime.delete(container_id, force=bool(flags.get("force")))
    elif verb == "pause":
        runtime.pause(container_id)
    elif verb == "resume":
        runtime.resume(container_id)
    elif verb == "ps":
        return _ps(runtime, container_id, args)
    elif verb == "exec":
        return _exec(runtime, container_id, args)
    return 0


def _spec(args: Args) -> int:
    from dockyard.runtime.defaults import default_spec

    path = os.path.join(str(args.flags.get("bundle", ".")), "config.json")
    if os.path.exists(path):
        raise UsageError(f"{path} already exists; remove it first")
    with open(path, "w") as f:
        f.write(_indented(default_spec()))
    return 0


def _list(runtime, flags: dict) -> int:
    containers = runtime.list()
    if flags.get("quiet"):
        for state in containers:
            print(state["id"])
    elif flags.get("format") == "json":
        print(fastjson.dumps(containers))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], "root") for s in containers]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _ps(runtime, container_id: str, args: Args) -> int:
    pids = runtime.ps(container_id)
    if args.flags.get("format") == "json":
        print(fastjson.dumps(pids))
        return 0
    import subprocess

    ps_args = args.positional[1:] or ["-ef"]
    output = subprocess.run(["ps", *ps_args], check=True, capture_output=True, text=True).stdout.splitlines()
    header, lines = output[0], output[1:]
    pid_column = header.split().index("PID")
    print(header)
    wanted = {str(p) for p in pids}
    for line in lines:
        if line.split()[pid_column] in wanted:
            print(line)
    return 0


def _exec(runtime, container_id: str, args: Args) -> int:
    flags = args.flags
    if flags.get("process"):
        with open(str(flags["process"]), "rb") as f:
            process = fastjson.loads(f.read())
    else:
        command = args.positional[1:]
        if not command:
            raise UsageError("exec: give a command or --process process.json")
        from dockyard.runtime import state as states

        base = states.load(runtime.root, container_id).config["process"]
        process = {
            "args": command,
            "env": base.get("env", []) + list(flags.get("env", [])),  # type: ignore[arg-type]
            "cwd": flags.get("cwd", base.get("cwd", "/")),
            "terminal": bool(flags.get("tty")),
            "user": _exec_user(flags, base),
            "noNewPrivileges": bool(flags.get("no-new-privs", base.get("noNewPrivileges", False))),
            "capabilities": _exec_caps(flags, base),
        }
    return runtime.exec(
        container_id,
        process,
        detach=bool(flags.get("detach")),
        console_socket=flags.get("console-socket"),  # type: ignore[arg-type]
        pid_file=flags.get("pid-file"),  # type: ignore[arg-type]
        preserve_fds=int(flags.get("preserve-fds", 0)),  # type: ignore[arg-type]
    )


def _exec_user(flags: dict, base: dict) -> dict:
    user = dict(base.get("user", {}))
    if flags.get("user"):
        uid, _, gid = str(flags["user"]).partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            raise UsageError(f"--user {flags['user']!r}: expected uid[:gid] as numbers")
        user["uid"] = int(uid)
        user["gid"] = int(gid) if gid else 0
    if flags.get("additional-gids"):
        user["additionalGids"] = [int(g) for g in flags["additional-gids"]]
    return user


def _exec_caps(flags: dict, base: dict) -> dict:
    caps = {name: list(values) for name, values in base.get("capabilities", {}).items()}
    for cap in flags.get("cap", []):
        for name in ("bounding", "effective", "permitted"):
            if cap not in caps.setdefault(name, []):
                caps[name].append(cap)
    return caps


def run_and_exit() -> None:
    """main(), then exit without tearing the interpreter down.

    Finalisation (module teardown, garbage collection) costs a few ms per
    invocation and frees nothing the kernel would not free anyway.

    The cyclic garbage collector is off for the same reason: its passes during
    the imports cost ~0.5 ms, and what the verbs allocate, even while `run`
    waits or relays a terminal for a long time, forms no reference cycles.
    """
    gc.disable()
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(code)


if __name__ == "__main__":
    run_and_exit()
