"""Senders over HTTP: Standard Webhooks, WeCom group robots and DingTalk custom robots.

Only a 2xx answer counts as delivered; a robot's 200 with ``errcode`` ≠ 0 is a failure too (its
reason goes into the delivery log). A webhook's 410 means the endpoint is gone: the channel is
disabled. Each channel keeps one client (connections reused) with a 15 s bound per request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from api.notify.render import Context, card, webhook_body
from api.notify.wire import Wire, WireError, retry_after_s
from events.notify.config import Channel, ChannelKind
from events.notify.signing import dingtalk_signed_url, webhook_headers, webhook_secret
from events.notify.store import Job, Outcome

TIMEOUT_S = 15.0
IN_FLIGHT = 8
"""Requests a channel keeps in flight at once: a receiver's round trip, not our CPU, bounds one at a time."""
ROBOT_MAX_BYTES = 4000
"""WeCom refuses markdown content over 4,096 bytes; cards are cut below that."""


class Parallel:
    """Runs one function over a batch of jobs on a few threads, outcomes in the jobs' order (a sender's
    `send`): the receivers' round trips overlap instead of adding up."""

    def __init__(self, name: str, workers: int = IN_FLIGHT) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)

    def map(self, one: Callable[[Job], Outcome], jobs: Sequence[Job]) -> list[Outcome]:
        if len(jobs) == 1:
            return [one(jobs[0])]
        return list(self._pool.map(one, jobs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class HttpSender:
    """Posts each job to the channel's URL with the body and headers ``prepare`` makes of it."""

    def __init__(self, channel: Channel, ctx: Context, clock: Callable[[], float] = time.time) -> None:
        self.channel = channel
        self.ctx = ctx
        self._clock = clock
        self._wire = Wire(TIMEOUT_S)
        self._parallel = Parallel(f"send-{channel.id}")
        self._key = webhook_secret(channel.secret or "") if channel.kind is ChannelKind.WEBHOOK else b""

    def prepare(self, job: Job) -> tuple[str, bytes, dict[str, str]]:
        kind = self.channel.kind
        if kind is ChannelKind.WEBHOOK:
            body = json.dumps(webhook_body(job, self.ctx), ensure_ascii=False, separators=(",", ":")).encode()
            headers = webhook_headers(self._key, job.message_id, int(self._clock()), body)
            return self.channel.url, body, {"content-type": "application/json", **headers}
        title, text = card(job, self.ctx)
        text = text.encode()[:ROBOT_MAX_BYTES].decode(errors="ignore")
        if kind is ChannelKind.WECOM:
            doc = {"msgtype": "markdown", "markdown": {"content": text}}
            url = self.channel.url
        else:
            doc = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
            url = self.channel.url
            if self.channel.secret:
                url = dingtalk_signed_url(url, self.channel.secret, int(self._clock() * 1000))
        return url, json.dumps(doc, ensure_ascii=False).encode(), {"content-type": "application/json; charset=utf-8"}

    def send(self, jobs: Sequence[Job]) -> list[Outcome]:
        return self._parallel.map(self._one, jobs)

    def _one(self, job: Job) -> Outcome:
        url, body, headers = self.prepare(job)
        try:
            response = self._wire.post(url, body, headers)
        except WireError as exc:
            return Outcome(False, error=str(exc)[:500])
        status = response.status
        if status == 410 and self.channel.kind is ChannelKind.WEBHOOK:
            return Outcome(False, status=status, error="410 Gone", gone=True)
        if not 200 <= status < 300:
            return Outcome(
                False,
                status=status,
                error=f"HTTP {status}: {response.text[:200]}",
                retry_after_s=retry_after_s(response.retry_after),
            )
        if self.channel.kind is not ChannelKind.WEBHOOK:
            try:
                answer = json.loads(response.body)
            except ValueError:
                return Outcome(False, status=status, error=f"the robot answered no JSON: {response.text[:200]}")
            code = answer.get("errcode") if isinstance(answer, dict) else None
            if code not in (0, None):
                return Outcome(False, status=status, error=f"errcode {code}: {answer.get('errmsg', '')}"[:500])
        return Outcome(True, status=status)

    def close(self) -> None:
        self._parallel.close()
        self._wire.close()
