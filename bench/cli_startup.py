"""CLI start-up: wall and CPU time of one ``smm`` invocation (``posts add --at now``, ``status``, ``--help``).

Run from the repository root:  .venv/bin/python -m bench.cli_startup [--quick] [-n 10] [--backends sqlite,postgres]

Per backend: a fresh database migrated to head with one Telegram channel; no server runs (a "now" post just
waits in the queue). Each command runs ``n`` times, one after another, as its own process exactly as a person
types it (``python -m app.cli …``); wall time around the process, CPU (user + sys) from
``getrusage(RUSAGE_CHILDREN)``. The module count is ``len(sys.modules)`` at the end of one more run of the
command, by a wrapper that runs the CLI in its own process and then prints it.

``--compare DIR``: the same commands also from another checkout of the code (this venv, ``DIR`` as the current
folder, so ``python -m app.cli`` imports DIR's ``app``), each run alternating between the two trees so that both
see the same load — e.g. ``git archive <rev> | tar -x -C /tmp/before`` for the figures before a change.

Writes the ``cli_startup`` block of bench/RESULTS.md (``--section NAME --title WORDS``: another block, e.g. the
figures before a change; ``--no-write``: print only).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    PY,
    ROOT,
    command_line,
    load_avg,
    machine_info,
    now_stamp,
    pg_available,
    seed_channels,
    smm_env,
    summary,
    temp_database,
    write_section,
)

# runs the CLI in this process, then prints how many modules it had imported and which heavy ones
_COUNT = (
    "import sys, runpy\n"
    "sys.argv = ['smm', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('app.cli', run_name='__main__')\n"
    "except SystemExit:\n"
    "    pass\n"
    "heavy = [m for m in ('numpy', 'fastapi', 'starlette', 'jinja2', 'alembic', 'httpx', 'rich', 'app.main',\n"
    "                     'app.analytics.model', 'app.web', 'connectors') if m in sys.modules]\n"
    "print(len(sys.modules), ','.join(heavy) or '-', file=sys.stderr)\n"
)


def _commands(channel_id: str) -> list[tuple[str, list[str]]]:
    return [
        ("smm posts add --at now", ["posts", "add", "--channel", channel_id, "--text", "bench", "--at", "now"]),
        ("smm status", ["status"]),
        ("smm --help", ["--help"]),
    ]


def _time_one(args: list[str], env: dict[str, str], tree: Path = ROOT) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([PY, "-m", "app.cli", *args], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=300)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"smm {' '.join(args)}: exit {done.returncode}: {done.stderr[-500:]}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _modules(args: list[str], env: dict[str, str], tree: Path = ROOT) -> tuple[int, str]:
    done = subprocess.run([PY, "-c", _COUNT, *args], cwd=tree, env={**env, "PYTHONPATH": str(tree)},
                          capture_output=True, text=True, timeout=300)
    count, heavy = done.stderr.strip().splitlines()[-1].split(" ", 1)
    return int(count), heavy


def run_backend(backend: str, n: int, trees: list[tuple[str, Path]]) -> list[dict[str, Any]]:
    with temp_database(backend, "clistart") as db:
        _, (channel_id,) = asyncio.run(seed_channels(db, [{"bot_token": "700001:AAEclistart-token-000001",
                                                             "chat_id": "-1004000001"}]))
        env = smm_env(db)
        rows = []
        for label, args in _commands(channel_id):
            walls: dict[str, list[float]] = {name: [] for name, _ in trees}
            cpus: dict[str, list[float]] = {name: [] for name, _ in trees}
            for _, tree in trees:
                _time_one(args, env, tree)  # warm the file cache: every run below is measured alike
            for _ in range(n):
                for name, tree in trees:  # alternating: both trees see the same load
                    wall, cpu = _time_one(args, env, tree)
                    walls[name].append(wall)
                    cpus[name].append(cpu)
            for name, tree in trees:
                count, heavy = _modules(args, env, tree)
                rows.append({"backend": "SQLite" if db.is_sqlite else "PostgreSQL", "tree": name, "command": label,
                             "wall": summary(walls[name]), "cpu": summary(cpus[name]), "modules": count,
                             "heavy": heavy})
        return rows


def render(rows: list[dict[str, Any]], n: int, cmd: str, load_before: str, took: float, title: str) -> str:
    lines = [
        f"## CLI start-up: wall and CPU time per `smm` invocation{title}",
        "",
        f"{now_stamp()} · {machine_info()} · load before {load_before}, after {load_avg()} · `{cmd}` · {took:.0f} s",
        "",
        f"n = {n} runs per row, one after another, each `python -m app.cli …` its own process (no server running). "
        "CPU = user + sys of the child. Modules = `len(sys.modules)` when the command has finished; "
        "'heavy' = which of numpy, fastapi, starlette, jinja2, alembic, httpx, rich, app.main, "
        "app.analytics.model, app.web, connectors it had imported.",
        "",
        "| backend | code | command | wall p50 s | wall max s | CPU p50 s | CPU max s | modules | heavy imports |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| {r['backend']} | {r['tree']} | `{r['command']}` | {r['wall']['p50']:.3f} | "
                     f"{r['wall']['max']:.3f} | {r['cpu']['p50']:.3f} | {r['cpu']['max']:.3f} | {r['modules']} | "
                     f"{r['heavy']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="n=3 on SQLite only; prints, writes nothing")
    ap.add_argument("-n", type=int, default=10, help="runs per command and backend")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--section", default="cli_startup", help="the RESULTS.md block to write")
    ap.add_argument("--compare", type=Path, metavar="DIR", help="also run DIR's code, alternating with this tree's")
    ap.add_argument("--compare-label", default="before", help="its name in the table")
    ap.add_argument("--title", default="", help="words added to the block's heading")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.backends, args.no_write = 3, "sqlite", True
    started, load_before = time.time(), load_avg()
    trees = [("this tree", ROOT)]
    if args.compare:
        trees.insert(0, (args.compare_label, args.compare.resolve()))
    rows: list[dict[str, Any]] = []
    for backend in (b.strip() for b in args.backends.split(",") if b.strip()):
        if backend == "postgres" and not pg_available():
            print("PostgreSQL not reachable at 127.0.0.1:5432: skipped", file=sys.stderr)
            continue
        rows.extend(run_backend(backend, args.n, trees))
    text = render(rows, args.n, command_line("bench.cli_startup", argv), load_before, time.time() - started,
                  f" ({args.title})" if args.title else "")
    print(text)
    if not args.no_write:
        write_section(args.section, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
