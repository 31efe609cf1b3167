"""Sub-commands besides ``run``. Each module here defines ``register(subparsers)``, which adds
its parser and sets ``handler`` (a function ``(argparse.Namespace) -> int``); ``vtuber.cli``
lists the modules in ``COMMAND_MODULES``. Handlers raise ``VTuberError`` for one-line errors."""
