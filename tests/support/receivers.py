"""Local receivers for bench/notify.py, run as a process of their own (so that their work is not counted as the
service's): a webhook endpoint, two robots and a push service, each answering at once. Prints their ports as
one JSON line; on a line on standard input it prints how many requests each got, and exits when input closes.

    .venv/bin/python tests/support/receivers.py
"""

from __future__ import annotations

import asyncio
import json
import sys

from aiohttp import web

ANSWERS = {
    "webhook": (200, b"{}"),
    "wecom": (200, b'{"errcode":0,"errmsg":"ok"}'),
    "dingtalk": (200, b'{"errcode":0,"errmsg":"ok"}'),
    "push": (201, b""),
}


async def main() -> int:
    """aiohttp, keep-alive: the receivers must not be what limits the channels."""
    counts = dict.fromkeys(ANSWERS, 0)
    ports: dict[str, int] = {}
    runners = []
    for name, (status, body) in ANSWERS.items():

        async def handle(
            request: web.Request, name: str = name, status: int = status, body: bytes = body
        ) -> web.Response:
            await request.read()
            counts[name] += 1
            return web.Response(status=status, body=body, content_type="application/json")

        app = web.Application()
        app.router.add_post("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ports[name] = runner.addresses[0][1]
        runners.append(runner)
    print(json.dumps(ports), flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        print(json.dumps(counts), flush=True)
    for runner in runners:
        await runner.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
