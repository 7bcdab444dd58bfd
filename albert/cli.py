"""Running an absl-flags command as a console script: `main(argv=None) -> int`.

absl's `app.run` exits instead of returning, lists in `--help` only the flags of the `__main__`
module (for an installed command that is pip's generated wrapper, which defines none) and exits
with status 1 after `--help`. `run_absl` returns the exit status, lists the command's own flags
under its docstring, and exits 0 after `--help`, so the same `main` serves `albert-create-data`,
`python data_preprocessing/create_training_data.py` and `python -m albert.data.create_training_data`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from absl import app, flags

HELP_SHORT = ("-?", "-h", "--help", "--helpshort")
HELP_FULL = ("--helpfull",)
_marked_required: set[str] = set()


def run_absl(
    function: Callable[[list[str]], int | None],
    argv: Sequence[str] | None,
    module: str,
    doc: str | None,
    required: Sequence[str] = (),
) -> int:
    """Parses `argv` (sys.argv when None; argv[0] is the program) into absl's FLAGS and runs
    `function`; returns its exit status. `module` is the name of the module that defines the
    command's flags, `doc` the usage text shown by `--help`, `required` the flags that must be given."""
    argv = list(sys.argv if argv is None else argv)
    fv = flags.FLAGS
    for flag in fv.get_key_flags_for_module(module):  # --help lists the flags of sys.argv[0]
        fv.register_key_flag_for_module(sys.argv[0], flag)
    main_module = sys.modules.get("__main__")
    if main_module is not None and doc:  # absl's usage() shows __main__'s docstring
        main_module.__doc__ = doc
    options = argv[1 : argv.index("--")] if "--" in argv else argv[1:]
    if any(a in HELP_SHORT or a in HELP_FULL for a in options):
        app.usage(shorthelp=not any(a in HELP_FULL for a in options), writeto_stdout=True)
        return 0
    flags.mark_flags_as_required([name for name in required if name not in _marked_required])
    _marked_required.update(required)
    try:
        app.run(function, argv)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    return 0
