"""Run every benchmark, one after another, each in its own process (``make bench``; ``make bench-quick`` in CI).

Run from the repository root:  .venv/bin/python -m bench.run_all [--quick] [--only api,dispatch,...]

Every benchmark is ``python -m bench.<name>`` and accepts ``--quick`` (a smoke run: < 60 s, so that CI keeps the
benchmarks working) and ``--no-write``. A full run lets each write its own block of bench/RESULTS.md (with the
machine and the date) and then writes the ``run_all`` block (what ran, exit status and time); ``--quick`` runs
pass ``--no-write`` and change nothing. Exit status: 0 when every benchmark exited 0, else 1.

To add a benchmark: one line in :data:`BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from typing import NamedTuple

from bench.common import PY, ROOT, command_line, load_avg, machine_info, now_stamp, write_section


class Bench(NamedTuple):
    name: str  # the module bench.<name>
    timeout: float  # seconds, full run
    quick_timeout: float = 600.0  # seconds, --quick (a smoke run takes < 60 s on an idle machine; this catches hangs)


BENCHMARKS: list[Bench] = [
    Bench("api", 1800),
    Bench("dispatch", 3600),
    Bench("analyzer", 1800),
    Bench("stalls", 3600),
    Bench("sessions_logs", 600),
    Bench("failover", 900),
    Bench("wakeup", 1800),
    Bench("prepare", 900),
    Bench("cli_startup", 600),
]


def run_one(bench: Bench, quick: bool) -> tuple[int, float]:
    cmd = [PY, "-m", f"bench.{bench.name}", *(["--quick", "--no-write"] if quick else [])]
    timeout = bench.quick_timeout if quick else bench.timeout
    print(f"== {bench.name}: {' '.join(cmd)}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)  # KeyboardInterrupt: the benchmark's own clean-up stops the servers it started
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        print(f"== {bench.name}: timed out after {timeout:.0f} s", flush=True)
        rc = rc or 1
    took = time.monotonic() - t0
    print(f"== {bench.name}: exit {rc} in {took:.0f} s", flush=True)
    return rc, took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="smoke run of each benchmark; RESULTS.md is left alone")
    ap.add_argument("--only", default=",".join(b.name for b in BENCHMARKS), help="comma list of benchmarks to run")
    args = ap.parse_args(argv)
    known = {b.name: b for b in BENCHMARKS}
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}")
    started = time.monotonic()
    ran = [(name, *run_one(known[name], args.quick)) for name in wanted]
    failed = [name for name, rc, _ in ran if rc != 0]
    print(f"== all: {len(ran)} benchmarks in {time.monotonic() - started:.0f} s", flush=True)
    if not args.quick:
        lines = ["## Benchmark run", "", f"Command: `{command_line('bench.run_all', argv)}`. Date: {now_stamp()}.",
                 f"Machine: {machine_info()}. Load average at the end: {load_avg()}.", "",
                 "| benchmark | exit | seconds |", "|---|---|---|"]
        lines += [f"| {name} | {rc} | {took:.0f} |" for name, rc, took in ran]
        write_section("run_all", "\n".join(lines))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
