"""`armlprof completion bash|zsh`: a shell completion script for the commands, their options and fixed choices,
generated from the argument parser itself (so it cannot fall out of date)."""

from __future__ import annotations

import argparse
import shlex


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def bash_script(parser: argparse.ArgumentParser) -> str:
    """A bash `complete -F` function: commands first, then each command's options, values of options with choices,
    boards/runtimes after --board/--runtime, files elsewhere."""
    from armlprof.board import board_names
    from armlprof.report import FORMATS
    from armlprof.runtime.base import runtime_names

    # Options whose values are checked later (free text for argparse) but come from a known list.
    known = {"--board": board_names(), "--boards": board_names(), "--runtime": runtime_names(),
             "--runtimes": runtime_names(), "--format": list(FORMATS)}
    commands = _commands(parser)
    cases = []
    for name, sub in commands.items():
        options = sorted(o for a in sub._actions for o in a.option_strings)
        words = {o: list(map(str, a.choices)) if a.choices else known.get(o)
                 for a in sub._actions if not isinstance(a, argparse._SubParsersAction) for o in a.option_strings}
        values = [f"      {shlex.quote(o)}) COMPREPLY=($(compgen -W {shlex.quote(' '.join(w))} -- \"$cur\")); return;;"
                  for o, w in words.items() if w]
        positional = [a for a in sub._actions if not a.option_strings and a.choices]
        first = (f'    if [[ $cword -eq 2 && $cur != -* ]]; then COMPREPLY=($(compgen -W '
                 f'{shlex.quote(" ".join(map(str, positional[0].choices)))} -- "$cur")); return; fi\n'
                 if positional else "")
        cases.append(f"  {name})\n{first}    case \"$prev\" in\n" + "\n".join(values)
                     + ("\n" if values else "") + "    esac\n"
                     f'    if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W {shlex.quote(" ".join(options))} '
                     '-- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi;;')
    return f"""# armlprof bash completion: eval "$(armlprof completion bash)" (e.g. in ~/.bashrc)
_armlprof() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} cword=$COMP_CWORD
  if [[ $cword -eq 1 ]]; then
    COMPREPLY=($(compgen -W {shlex.quote(' '.join(commands) + ' --help --version')} -- "$cur")); return
  fi
  case "${{COMP_WORDS[1]}}" in
{chr(10).join(cases)}
  esac
}}
complete -o filenames -F _armlprof armlprof
"""


def _completion(args: argparse.Namespace) -> int:
    from armlprof.cli import build_parser

    script = bash_script(build_parser())
    if args.shell == "zsh":  # zsh runs bash completion functions through bashcompinit
        script = "autoload -U +X bashcompinit && bashcompinit\n" + script
    print(script, end="")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("completion", help="print a shell completion script (bash or zsh)",
                       epilog='examples:\n  eval "$(armlprof completion bash)"     # in ~/.bashrc\n'
                              '  eval "$(armlprof completion zsh)"      # in ~/.zshrc')
    p.add_argument("shell", choices=("bash", "zsh"), help="the shell")
    p.set_defaults(handler=_completion)
