"""dockyard completion bash|zsh: a completion script made from the command registry and every command's flags.

Commands, management subcommands and flags come from the code, so the script never lags behind it;
container and image names are asked of the daemon (`dockyard ps -a`, `dockyard images`) when completing.
"""

from __future__ import annotations

from importlib import import_module

from dockyard.cli import output, registry
from dockyard.cli.flags import BOOL, Command, UsageError

COMPLETION = Command(
    "completion",
    "bash|zsh",
    "Generate the autocompletion script for bash or zsh",
    min_args=1,
    max_args=1,
)

BASH = """\
# dockyard completion for bash: source <(dockyard completion bash)
_dockyard_containers() { dockyard ps -a 2>/dev/null | awk 'NR>1 {print $NF}'; }
_dockyard_images() { dockyard images 2>/dev/null | awk 'NR>1 && $1 != "<none>" {print $1":"$2}'; }
_dockyard() {
    local cur=${COMP_WORDS[COMP_CWORD]} command="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            %(valued_globals)s) [ -z "$command" ] && ((i++)) ;;
            -*) ;;
            *) if [ -z "$command" ]; then command=${COMP_WORDS[i]}
               elif [[ " %(groups)s " == *" $command "* ]]; then command="$command ${COMP_WORDS[i]}"; break
               else break; fi ;;
        esac
    done
    local words
    case "$command" in
        "") words="%(top)s %(globals)s" ;;
%(group_cases)s
%(flag_cases)s
    esac
    if [[ $cur != -* ]]; then
        case "$command" in
            %(container_commands)s) words="$words $(_dockyard_containers)" ;;
            %(image_commands)s) words="$words $(_dockyard_images)" ;;
        esac
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _dockyard dockyard
"""

ZSH = """\
#compdef dockyard
# dockyard completion for zsh: source <(dockyard completion zsh)
autoload -U +X bashcompinit && bashcompinit
"""

CONTAINER_COMMANDS = ("attach", "commit", "cp", "diff", "exec", "export", "kill", "logs", "pause", "port", "rename",
                      "restart", "rm", "start", "stats", "stop", "top", "unpause", "update", "wait", "inspect",
                      "container inspect")  # fmt: skip
IMAGE_COMMANDS = ("run", "create", "history", "push", "rmi", "save", "tag", "image inspect")


def completion(_context, _opts, args) -> int:
    shell = args[0]
    if shell not in ("bash", "zsh"):
        raise UsageError(f"unsupported shell {shell!r}: bash or zsh")
    script = bash_script()
    output.write(script if shell == "bash" else ZSH + script.split("\n", 1)[1])
    return 0


def bash_script() -> str:
    group_cases = []
    for group, (_, subcommands) in registry.GROUPS.items():
        group_cases.append(f'        "{group}") words="{" ".join(sorted(subcommands))}" ;;')
    flag_cases = []
    names = {name: name for name in registry.TOP}
    for group, (_, subcommands) in registry.GROUPS.items():
        names.update({f"{group} {sub}": target for sub, target in subcommands.items()})
    for typed, target in sorted(names.items()):
        command = _command(target)
        flags = [f"--{flag.long}" for flag in command.flags] + [
            f"-{flag.short}" for flag in command.flags if flag.short
        ]
        flag_cases.append(f'        "{typed}") words="{" ".join([*flags, "--help"])}" ;;')
    from dockyard.cli.dispatch import GLOBAL

    globals_ = [f"--{flag.long}" for flag in GLOBAL.flags] + [f"-{flag.short}" for flag in GLOBAL.flags if flag.short]
    valued = [f"--{flag.long}" for flag in GLOBAL.flags if flag.kind != BOOL]
    valued += [f"-{flag.short}" for flag in GLOBAL.flags if flag.kind != BOOL and flag.short]
    return BASH % {
        "valued_globals": "|".join(valued),
        "globals": " ".join(globals_),
        "groups": " ".join(registry.GROUPS),
        "top": " ".join([*registry.TOP, *registry.GROUPS, "daemon", "bootstrap"]),
        "group_cases": "\n".join(group_cases),
        "flag_cases": "\n".join(flag_cases),
        "container_commands": "|".join(f'"{name}"' for name in CONTAINER_COMMANDS),
        "image_commands": "|".join(f'"{name}"' for name in IMAGE_COMMANDS),
    }


def _command(name: str) -> Command:
    if name == "completion":
        return COMPLETION
    module = import_module(f"dockyard.cli.commands.{registry.module_of(name)}")
    return module.COMMANDS[name][0]


COMMANDS = {"completion": (COMPLETION, completion)}
