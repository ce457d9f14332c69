"""Running OCI hooks: the container's state on stdin, a timeout, an error that names the hook."""

from __future__ import annotations

from dockyard import fastjson


class HookError(Exception):
    pass


def has_hooks(config: dict, *kinds: str) -> bool:
    hooks = config.get("hooks", {})
    return any(hooks.get(kind) for kind in kinds)


def run_hooks(config: dict, kind: str, state: dict, warn=None) -> None:
    """Run every hook of one kind in order.

    The first failure raises HookError, unless warn is given: then each failure
    is passed to warn and the rest still run (the spec's rule for poststart and
    poststop hooks).
    """
    hooks = config.get("hooks", {}).get(kind, [])
    if not hooks:
        return
    import subprocess

    payload = fastjson.dumps(state).encode()
    for i, hook in enumerate(hooks):
        name = f"{kind}[{i}] {hook['path']}"
        args = hook.get("args") or [hook["path"]]
        try:
            result = subprocess.run(
                args,
                executable=hook["path"],
                input=payload,
                env=dict(e.partition("=")[::2] for e in hook.get("env", [])),
                capture_output=True,
                timeout=hook.get("timeout"),
                check=False,
            )
        except subprocess.TimeoutExpired:
            error = HookError(f"hook {name} timed out after {hook['timeout']}s")
        except OSError as exc:
            error = HookError(f"hook {name}: {exc.strerror}")
        else:
            if result.returncode == 0:
                continue
            detail = result.stderr.decode(errors="replace").strip()
            error = HookError(f"hook {name} exited with status {result.returncode}: {detail}")
        if warn is None:
            raise error
        warn(str(error))
