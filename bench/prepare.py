"""Photo posts on time: lateness of the visible call with and without preparation ahead, in the same run.

    .venv/bin/python -m bench.prepare [--quick] [--posts N] [--backend sqlite|postgres]

Two `smm serve` processes run side by side, each on its own database and its own set of the four platform fakes
(in this process, on loopback): one with ``SMM_PREPARE_AHEAD=0`` (today's path: media fetched and uploaded after
the post falls due), one with ``SMM_PREPARE_AHEAD=300``. Each gets 100 channels (25 per platform) and photo posts
at 1 post/s, round-robin over its channels, the photo served by a local media server (allowed with
``SMM_FETCH_ALLOW_HOSTS``). The Instagram fakes take 1 s to process a container (Meta takes seconds to a minute).

Lateness = when the visible call reached the fake (``/_control/log``: VK ``wall.post``, Telegram ``sendPhoto``,
Facebook ``POST /photos``, Instagram ``POST /media_publish``) minus the post's time; a platform's calls are paired
with its posts in time order. Target: p99 ≤ 1 s with preparation. ``--quick`` (4 posts) prints and writes
nothing; a full run writes its block of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Response

from bench.common import (
    API_KEY,
    PY,
    BenchDb,
    Proc,
    command_line,
    free_port,
    load_avg,
    machine_info,
    now_stamp,
    seed_channels,
    smm_env,
    spawn,
    summary,
    temp_database,
    wait_http,
    write_section,
)
from connectors.facebook.fake import create_app as facebook_fake
from connectors.fakekit import serve_in_thread
from connectors.instagram.fake import create_app as instagram_fake
from connectors.telegram.fake import create_app as telegram_fake
from connectors.vk.fake import create_app as vk_fake

PLATFORMS = ("telegram", "vk", "facebook", "instagram")
VISIBLE = {"telegram": "sendPhoto", "vk": "wall.post", "facebook": "POST /photos", "instagram": "POST /media_publish"}
CHANNELS = 100
MODES = {"without preparation": "0", "with preparation": "300"}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 200


def creds(platform: str, i: int, mode: int) -> dict[str, str]:
    n = mode * 1000 + i
    return {
        "telegram": {"bot_token": f"12345{mode}789:AAEabcdefghijklmnopqrstuvwxyz012345", "chat_id": f"-100{7000 + n}"},
        "vk": {"access_token": f"vk1.a.bench{n:05d}abcdefghijklmnopqrstuvwxyz", "owner_id": str(-(5000 + n))},
        "facebook": {"page_id": str(1000000 + n), "access_token": f"EAAbench{n:05d}abcdefghijklmnopqrstuvwxyz"},
        "instagram": {"ig_user_id": str(17841400000000000 + n), "access_token": f"EAAig{n:05d}abcdefghijklmnopq"},
    }[platform]


def media_app() -> FastAPI:
    app = FastAPI()

    @app.get("/p/{name}")
    async def photo(name: str) -> Response:
        return Response(JPEG, media_type="image/jpeg")

    return app


@contextlib.contextmanager
def fakes() -> Iterator[dict[str, str]]:
    with (
        serve_in_thread(telegram_fake(sandbox=True)) as tg,
        serve_in_thread(vk_fake(sandbox=True)) as vk,
        serve_in_thread(facebook_fake(sandbox=True)) as fb,
        serve_in_thread(instagram_fake(sandbox=True, processing_delay=1.0)) as ig,
    ):
        yield {"telegram": tg, "vk": vk, "facebook": fb, "instagram": ig}


def start_serve(db: BenchDb, bases: dict[str, str], media: str, ahead: str) -> tuple[Proc, str]:
    port = free_port()
    env = smm_env(
        db, SMM_PORT=str(port), SMM_SAFETY_TICK="3600", SMM_PREPARE_AHEAD=ahead, SMM_SHUTDOWN_GRACE="1",
        SMM_FETCH_ALLOW_HOSTS=media.removeprefix("http://"),
        **{f"SMM_{p.upper()}_API_BASE": bases[p] for p in PLATFORMS},
    )
    proc = spawn([PY, "-m", "app.cli", "serve"], env, db.data_dir, f"serve-{ahead}")
    base = f"http://127.0.0.1:{port}"
    return proc, base


def visible_calls(base: str, platform: str) -> list[float]:
    return sorted(c["at"] for c in httpx.get(f"{base}/_control/log", timeout=10).json()
                  if c["method"] == VISIBLE[platform])


def run(posts: int, backend: str, lead: float) -> dict[str, Any]:
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        media = stack.enter_context(serve_in_thread(media_app()))
        setups: list[dict[str, Any]] = []
        for m, (mode, ahead) in enumerate(MODES.items()):
            db = stack.enter_context(temp_database(backend, f"prepare{m}"))
            channels: list[tuple[str, str]] = []
            for platform in PLATFORMS:
                _, ids = asyncio.run(seed_channels(db, [creds(platform, i, m) for i in range(CHANNELS // 4)],
                                                   platform))
                channels.extend((platform, cid) for cid in ids)
            # round-robin over platforms: channel k of each platform in turn
            order = [channels[(i % 4) * (CHANNELS // 4) + (i // 4) % (CHANNELS // 4)] for i in range(CHANNELS)]
            bases = stack.enter_context(fakes())
            proc, api = start_serve(db, bases, media, ahead)
            stack.callback(proc.stop)
            setups.append({"mode": mode, "order": order, "bases": bases, "proc": proc, "api": api})
        # on the way out both servers are told to stop at once, then waited for (callbacks run last-in first-out)
        stack.callback(lambda: [s["proc"].popen.terminate() for s in setups])
        print(f"set up in {time.monotonic() - began:.1f} s", file=sys.stderr)
        for s in setups:
            wait_http(f"{s['api']}/readyz", s["proc"], timeout=120)
        print(f"ready in {time.monotonic() - began:.1f} s", file=sys.stderr)
        t0 = time.time() + lead
        due: dict[str, dict[str, list[float]]] = {}
        for m, s in enumerate(setups):
            per: dict[str, list[float]] = {p: [] for p in PLATFORMS}
            with httpx.Client(base_url=s["api"], headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as c:
                for i in range(posts):
                    platform, channel_id = s["order"][i % CHANNELS]
                    at = t0 + i + 0.5 * m  # the two runs interleave: each at 1 post/s
                    body = {"text": f"photo {i}", "channel_ids": [channel_id],
                            "scheduled_at": datetime.fromtimestamp(at, UTC).isoformat(),
                            "media": [{"url": f"{media}/p/{i}.jpg"}]}
                    r = c.post("/api/v1/posts", json=body)
                    if r.status_code != 201:
                        raise RuntimeError(f"post refused: {r.status_code} {r.text}")
                    per[platform].append(at)
            due[s["mode"]] = per
        if time.time() > t0:
            raise RuntimeError("creating the posts took longer than the lead; raise --lead")
        deadline = t0 + posts + 60
        results: dict[str, Any] = {}
        while time.time() < deadline:
            done = all(len(visible_calls(s["bases"][p], p)) >= len(due[s["mode"]][p])
                       for s in setups for p in PLATFORMS)
            if done:
                break
            time.sleep(1.0)
        for s in setups:
            lateness: dict[str, list[float]] = {}
            missing = 0
            for p in PLATFORMS:
                calls, times = visible_calls(s["bases"][p], p), sorted(due[s["mode"]][p])
                missing += max(0, len(times) - len(calls))
                lateness[p] = [call - at for call, at in zip(calls, times, strict=False)]
            everything = [x for xs in lateness.values() for x in xs]
            results[s["mode"]] = {"all": summary(everything), "by_platform": {p: summary(v) for p, v in
                                                                            lateness.items()}, "missing": missing}
        return results


def render(results: dict[str, Any], posts: int, backend: str, cmd: str, elapsed: float) -> str:
    lines = [
        f"## Photo posts on time: preparation ahead (`bench/prepare.py`, {backend})",
        "",
        f"{now_stamp()} · {machine_info()} · load {load_avg()} · `{cmd}` · {elapsed:.0f} s",
        "",
        f"{posts} photo posts per run at 1 post/s over {CHANNELS} channels (25 per platform), {backend}; both runs "
        "side by side (interleaved by 0.5 s), each its own `smm serve` and fakes. Lateness of the visible call "
        "(s) = its arrival at the fake minus the post's time. Target: p99 ≤ 1 s. The fakes do not fetch media URLs, "
        "so Telegram and Facebook without preparation (photo by URL) look faster here than they are: the real "
        "platforms fetch the URL during the call; with preparation the kept bytes are uploaded instead.",
        "",
        "| run | platform | n | p50 | p95 | p99 | max |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for mode, r in results.items():
        for name, s in [("all", r["all"]), *r["by_platform"].items()]:
            lines.append(f"| {mode} | {name} | {int(s['n'])} | {s['p50']:.3f} | {s['p95']:.3f} | {s['p99']:.3f} "
                         f"| {s['max']:.3f} |")
        if r["missing"]:
            lines.append(f"| {mode} | not sent within the wait | {r['missing']} | | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="4 posts (one per platform); prints, writes nothing")
    ap.add_argument("--posts", type=int, default=None)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--lead", type=float, default=None, help="seconds from the first post's creation to its time")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = ap.parse_args(argv)
    posts = args.posts or (4 if args.quick else 100)
    lead = args.lead or (5.0 if args.quick else 30.0)
    started = time.monotonic()
    results = run(posts, args.backend, lead)
    text = render(results, posts, args.backend, command_line("bench.prepare", argv), time.monotonic() - started)
    print(text)
    if not args.quick and not args.no_write:
        write_section("prepare" if args.backend == "sqlite" else f"prepare-{args.backend}", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
