"""Settings, each declared once: its name, type, default, help and the other spellings users
type. A script's command line, its `--help` and the launcher's command lines are all made from
the same table.

    >>> TABLE = group("Training", Setting("num_train_steps", int, 1000, "Optimizer steps.",
    ...                                   aliases=("train_steps", "total_steps")))
    >>> parse(TABLE, ["--total_steps=20"]).num_train_steps
    20
    >>> to_argv(TABLE, {"num_train_steps": 20})
    ['--num_train_steps=20']

Booleans are written as Google's absl flags take them: `--do_train`, `--do_train=false`,
`--nodo_train`. Two spellings of one setting on one command line are an error, not a silent
choice.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class SettingError(ValueError):
    """A setting that does not exist or has a value it cannot take; the message is one line."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting. `type` is int, float, str or bool; `aliases` are its other spellings; a
    `positive` number must be above 0."""

    name: str
    type: type
    default: Any
    help: str
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] | None = None
    required: bool = False
    group: str = ""
    positive: bool = False

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def group(title: str, *settings: Setting) -> tuple[Setting, ...]:
    """The settings, shown under `title` in `--help`."""
    return tuple(dataclasses.replace(s, group=title) for s in settings)


def with_defaults(table: Sequence[Setting], **defaults: Any) -> tuple[Setting, ...]:
    """The table with some defaults replaced (a task's own defaults for shared settings)."""
    names = {s.name for s in table}
    unknown = sorted(set(defaults) - names)
    if unknown:
        raise SettingError(f"no setting {', '.join(unknown)} in this table")
    return tuple(dataclasses.replace(s, default=defaults[s.name]) if s.name in defaults else s for s in table)


class Values:
    """Setting values by name (`values.learning_rate`), and which of them the user gave."""

    def __init__(self, values: Mapping[str, Any], given: Iterable[str] = (), spelled: Mapping[str, str] | None = None):
        self.__dict__.update(values)
        self._given = frozenset(given)
        self._spelled = dict(spelled or {})

    def given(self, name: str) -> bool:
        """Whether `name` was set by the user (on the command line, or as an override)."""
        return name in self._given

    def flag(self, name: str) -> str:
        """The setting as the user spelled it (`--train_step`), for messages."""
        return self._spelled.get(name, f"--{name}")

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_given", "_spelled")}

    def __repr__(self) -> str:
        return f"Values({self.as_dict()!r})"


def defaults(table: Sequence[Setting], **overrides: Any) -> Values:
    """The table's defaults with `overrides` (counted as given): settings for library use."""
    values = {s.name: s.default for s in table}
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise SettingError(f"no setting {', '.join(unknown)}")
    return Values({**values, **overrides}, overrides)


# ----------------------------------------------------------------------------------------------
# Command lines
# ----------------------------------------------------------------------------------------------

_TRUE, _FALSE = ("true", "t", "1", "yes"), ("false", "f", "0", "no")


def parse_bool(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


class _Store(argparse.Action):
    """Stores a value and refuses a second spelling of the same setting."""

    def __call__(self, parser, namespace, values, option_string=None):
        spelled = namespace.__dict__.setdefault("_spelled", {})
        earlier = spelled.get(self.dest)
        if earlier is not None and earlier != option_string:
            parser.error(f"{earlier} and {option_string} both set --{self.dest}; give one")
        spelled[self.dest] = option_string
        setattr(namespace, self.dest, self.const if values is None or values == [] else values)


def _help(setting: Setting) -> str:
    text = setting.help.replace("%", "%%")
    if setting.required:
        text += " Required."
    elif setting.default is not None:
        text += f" Default: {setting.default}."
    return text


def _add(container, setting: Setting) -> None:
    options = [f"--{s}" for s in setting.spellings]
    common = dict(dest=setting.name, action=_Store, default=argparse.SUPPRESS)
    if setting.type is bool:
        container.add_argument(
            *options, nargs="?", const=True, type=parse_bool, metavar="BOOL", help=_help(setting), **common
        )
        container.add_argument(
            *[f"--no{s}" for s in setting.spellings], nargs=0, const=False, help=argparse.SUPPRESS, **common
        )
        return
    container.add_argument(
        *options,
        type=_positive(setting.type) if setting.positive else setting.type,
        choices=setting.choices,
        metavar=None if setting.choices else setting.type.__name__.upper(),  # choices show as {a,b}
        help=_help(setting),
        **common,
    )


def _positive(kind: type):
    def convert(text: str):
        value = kind(text)
        if not value > 0:  # also NaN
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in its errors
    return convert


def build_parser(
    table: Sequence[Setting], prog: str | None = None, description: str | None = None, add_help: bool = True
):
    """An argparse parser of the table, its settings grouped as the table groups them."""
    parser = argparse.ArgumentParser(
        prog=prog,
        add_help=add_help,
        usage="%(prog)s [--setting=value ...]",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    groups: dict[str, Any] = {}
    for setting in table:
        if setting.group not in groups:
            groups[setting.group] = parser.add_argument_group(setting.group) if setting.group else parser
        _add(groups[setting.group], setting)
    return parser


def parse(
    table: Sequence[Setting], argv: Sequence[str], prog: str | None = None, description: str | None = None
) -> Values:
    """The values of a command line (`argv` without the program name). `--help` prints the
    table and exits; an unknown setting or bad value prints a one-line error and exits 2."""
    parser = build_parser(table, prog, description)
    values = _values(table, parser.parse_args(list(argv)))
    missing = [f"--{s.name}" for s in table if s.required and not values.given(s.name)]
    if missing:
        parser.error(f"{', '.join(missing)} required")
    return values


def parse_known(table: Sequence[Setting], argv: Sequence[str]) -> tuple[Values, list[str]]:
    """The table's values in `argv`, and the arguments that are not the table's (in order)."""
    namespace, rest = build_parser(table, add_help=False).parse_known_args(list(argv))
    return _values(table, namespace), rest


def _values(table: Sequence[Setting], namespace: argparse.Namespace) -> Values:
    """The table's defaults with what the parser read (its settings given, as spelled)."""
    given = vars(namespace)
    spelled = given.pop("_spelled", {})
    return Values({**{s.name: s.default for s in table}, **given}, given, spelled)


def to_argv(table: Sequence[Setting], values: Mapping[str, Any], script: str = "the script") -> list[str]:
    """The command-line arguments that give `values` (by their settings' names); a name the
    table lacks is an error, so a launcher cannot build a command its script refuses."""
    by_name = {s.name: s for s in table}
    argv = []
    for name, value in values.items():
        setting = by_name.get(name)
        if setting is None:
            raise SettingError(f"{script} has no setting --{name}")
        if value is None:
            continue
        if setting.type is bool:
            argv.append(f"--{name}" if value else f"--no{name}")
        else:
            argv.append(f"--{name}={value}")
    return argv
