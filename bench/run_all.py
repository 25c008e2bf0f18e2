"""Run every benchmark, one after another, each in its own process (the list below).

Run from the repository root:  .venv/bin/python -m bench.run_all [--quick] [--only name,name,...]

Each benchmark writes its own block of bench/RESULTS.md (``--quick`` runs are smoke runs and write nothing).
Exit status: 0 when every benchmark exited 0, else 1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.common import ROOT

BENCHMARKS: dict[str, tuple[list[str], float]] = {  # module args, timeout in seconds
    "api": (["-m", "bench.api"], 1800.0),
    "dispatch": (["-m", "bench.dispatch"], 3600.0),
    "analyzer": (["-m", "bench.analyzer"], 1800.0),
    "stalls": (["-m", "bench.stalls"], 3600.0),
    "failover": (["-m", "bench.failover"], 900.0),
    "wakeup": (["-m", "bench.wakeup"], 1800.0),
    "prepare": (["-m", "bench.prepare"], 900.0),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="smoke run of each benchmark")
    ap.add_argument("--only", default=",".join(BENCHMARKS), help="comma list of benchmarks to run")
    args = ap.parse_args(argv)
    failed: list[str] = []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        cmd, timeout = BENCHMARKS[name]
        extra = ["--quick"] if args.quick else []
        if args.quick and name == "analyzer":
            extra.append("--no-write")  # a smoke run must not replace the analyzer's published figures
        full = [sys.executable, *cmd, *extra]
        print(f"== {name}: {' '.join(full)}", flush=True)
        t0 = time.monotonic()
        proc = subprocess.Popen(full, cwd=ROOT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            print(f"== {name}: timed out after {timeout:.0f} s", flush=True)
        print(f"== {name}: exit {rc} in {time.monotonic() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
