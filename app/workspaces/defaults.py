"""The workspace a command or a bootstrap key uses when none is named (a module of its own: the ``smm`` command
reads it for its ``--workspace`` default without importing the workspace service)."""

DEFAULT_WORKSPACE = "default"
