"""Sign-in limit and log redaction: what a flood of wrong keys gets, and what the redaction filter costs.

1. 200 wrong API keys posted to ``/login`` of a real ``smm serve`` (SQLite), one after another from one address:
   how many are answered 401 and how many 429, the time, and the ``Retry-After`` of the last answer.
2. CPU time of :class:`app.logs.RedactSecrets` per record (an httpx request line), with no credential known and
   with the 32 most recent credentials known, for a record without a secret and one with a bot token.
"""

from __future__ import annotations

import argparse
import collections
import logging
import re
import secrets
import sys
import time

import httpx

from bench.common import (
    PY,
    command_line,
    free_port,
    load_avg,
    machine_info,
    now_stamp,
    running,
    smm_env,
    spawn,
    temp_database,
    wait_http,
    write_section,
)

ATTEMPTS = 200
CLEAN_URL = "http://127.0.0.1:8000/sandbox/vk/method/wall.post"
TOKEN_URL = "http://127.0.0.1:8000/sandbox/telegram/bot123456789:AAEabcdefghijklmnopqrstuvwxyz012345/sendMessage"


def login_flood(attempts: int = ATTEMPTS) -> dict[str, object]:
    with temp_database("sqlite", "login") as db:
        port = free_port()
        env = smm_env(db, SMM_PORT=str(port))
        proc = spawn([PY, "-m", "app.cli", "serve", "--no-scheduler"], env, db.data_dir, "serve")
        base = f"http://127.0.0.1:{port}"
        with running(proc):
            wait_http(f"{base}/readyz", proc)
            with httpx.Client(base_url=base, timeout=30) as client:
                page = client.get("/login")
                match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert match, "no CSRF token on /login"
                counts: collections.Counter[int] = collections.Counter()
                started = time.perf_counter()
                last = None
                for i in range(attempts):
                    last = client.post("/login", data={"api_key": f"smm_guess_{i:05d}_{'x' * 24}",
                                                       "csrf_token": match.group(1)})
                    counts[last.status_code] += 1
                took = time.perf_counter() - started
    assert last is not None
    return {"counts": dict(counts), "seconds": took, "retry_after": last.headers.get("retry-after"),
            "attempts": attempts}


def redaction_cost(n: int = 20000) -> list[tuple[str, float, float]]:
    from app.logs import REDACTOR, RedactSecrets, register_credentials

    def per_record(url: str) -> float:
        keep = RedactSecrets()
        t = time.process_time()
        for _ in range(n):
            keep.filter(logging.LogRecord("httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s %d %s"',
                                          ("POST", url, "HTTP/1.1", 200, "OK"), None))
        return (time.process_time() - t) / n * 1e6

    rows = [("none", per_record(CLEAN_URL), per_record(TOKEN_URL))]
    for i in range(64):
        register_credentials({"bot_token": f"{10**9 + i}:" + secrets.token_urlsafe(26),
                              "access_token": "EAA" + secrets.token_urlsafe(40)})
    rows.append((f"32 credentials ({len(REDACTOR._forms)} forms)", per_record(CLEAN_URL), per_record(TOKEN_URL)))
    return rows


def render(flood: dict[str, object], costs: list[tuple[str, float, float]], cmd: str) -> str:
    lines = [
        "## Sign-in limit and log redaction", "",
        f"Command: `{cmd}`. Date: {now_stamp()}. Load average before: {load_avg()}.",
        f"Machine: {machine_info()}.", "",
        f"**{flood['attempts']} wrong keys at `/login`** (one address, `SMM_LOGIN_MAX_FAILURES=10`, window 300 s): "
        f"answers {flood['counts']} in {flood['seconds']:.2f} s (before: all 200 answered 401, in 0.27 s); "
        f"`Retry-After` of the last: {flood['retry_after']} s.", "",
        "**Redaction filter, CPU per record** (httpx request line):", "",
        "| known credentials | record without a secret | record with a bot token |", "|---|---|---|",
    ]
    lines += [f"| {label} | {clean:.1f} µs | {dirty:.1f} µs |" for label, clean, dirty in costs]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="30 wrong keys, 2,000 records per cost (smoke run)")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = ap.parse_args(argv)
    flood = login_flood(30 if args.quick else ATTEMPTS)
    counts = flood["counts"]
    assert isinstance(counts, dict) and counts.get(429), f"no 429 among {counts}: the sign-in limit did not apply"
    text = render(flood, redaction_cost(2_000 if args.quick else 20_000), command_line("bench.sessions_logs", argv))
    print(text)
    if not args.no_write and not args.quick:
        write_section("sessions_logs", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
