"""The `keras-gen` commands, one module each: `add_parser(subparsers)` adds the command's
arguments and help texts, and `run(args)` (`run(args, extra)` where the command reads request
flags of its own) carries it out and returns the exit status. `keras_gen.cli` assembles them;
`common` holds what several share. Importing a command module imports no TensorFlow."""
