"""Several `saved_model_cli` commands in one interpreter: each argv (a JSON list of lists on the
command line) parsed by saved_model_cli's own parser and run by its own command functions (show:
`_show_all`, run: the TF 1 session loader TF Serving uses), as `saved_model_cli ARGS...` runs it,
with TensorFlow imported once instead of once a command (5-10 CPU seconds each). Each command's
output follows a line `=== COMMAND i`; a failing command exits non-zero at once.

    python tests/scripts/saved_model_cli_commands.py '[["show", "--dir", "D", "--all"], ["run", ...]]'
"""

import json
import sys

from absl import flags
from tensorflow.python.tools import saved_model_cli


def main(commands: list[list[str]]) -> None:
    for index, argv in enumerate(commands):
        print(f"=== COMMAND {index}", flush=True)
        flags.FLAGS.unparse_flags()  # no value left from the command before
        flags.FLAGS(["saved_model_cli", *argv])  # as app.run parses them (the command's flags are absl flags)
        missing = [f for f in saved_model_cli.command_required_flags[argv[0]] if flags.FLAGS[f].value is None]
        assert not missing, f"saved_model_cli {argv[0]} requires {missing}"
        args = saved_model_cli.create_parser().parse_args(argv)
        args.func()
        sys.stdout.flush()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
