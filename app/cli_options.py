"""Options every ``smm`` command group shares. Importing this module costs nothing but typer: ``smm --help``
and each command import what they use only when they run (see app/cli.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.workspaces.defaults import DEFAULT_WORKSPACE

__all__ = ["DEFAULT_WORKSPACE", "JsonOpt", "WorkspaceOpt"]

JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
WorkspaceOpt = Annotated[str, typer.Option("--workspace", "-w", help="workspace name")]
