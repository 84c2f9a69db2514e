"""Who gets the models when they cannot serve every camera: one budget of model time, shared by need.

Ingest offers each camera's newest gated frame; the `Scheduler` decides which offers the detector takes
now. Model time (counting model, fall model, rules: everything `DetectorPipeline.process` spends) is a
token bucket of seconds refilled at ``budget`` seconds per second. Offers are served in order of need —
an open episode, then a camera past its guaranteed cadence, then a recent alert, then motion, then quiet
keep-alive frames — and among equals the camera analysed longest ago first, so nobody is starved by a
busier neighbour. An open episode or an overdue camera is never held back by the budget: under overload
the quiet cameras lose cadence first, down to the guaranteed minimum, and motion cameras wait their turn.
A deferred offer is not taken: ingest keeps replacing it with the camera's newer frames.

Pure and clock-injected (table-tested with a fake clock); `InferenceLoop` runs it.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.clock import Clock
from ingest.types import Offer

BUSY_WINDOW_S = 10.0


class Need(enum.IntEnum):
    """Why a camera wants the detector; lower is served first."""

    EPISODE = 0
    """An episode is open on the camera: it keeps its cadence whatever the load."""
    OVERDUE = 1
    """Not analysed for the guaranteed minimum interval (tamper and offline-style rules must see every camera)."""
    ALERTED = 2
    """An episode opened on the camera recently."""
    MOTION = 3
    QUIET = 4
    """A keep-alive frame without motion."""


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    budget: float = 0.9
    """Model seconds per second: the share of one core inference may use on average (it runs on one thread)."""
    burst_s: float = 1.0
    """Model seconds the budget may save up while the cameras are calm (a burst of motion is served at once)."""
    max_batch_s: float = 0.3
    """Expected model time of one batch beyond its EPISODE and OVERDUE offers: a long batch would let the next
    frame of every camera replace the one waiting (keyframes come once a second), so batches stay short."""
    min_interval_s: float = 10.0
    """Every camera is analysed at least this often, whatever the load (when ingest has a frame of it)."""
    recent_alert_s: float = 60.0
    """A camera whose episode opened this recently keeps the ALERTED need."""
    moving_cost_s: float = 0.008
    """First estimate of a frame with motion (the model runs); learnt per camera from then on."""
    still_cost_s: float = 0.001
    """First estimate of a frame without motion (rules only)."""
    learn: float = 0.2
    """Weight of the newest measurement in a camera's cost estimate."""
    late_slack_s: float = 1.0
    """How far past its guaranteed interval an analysis may come (a batch in progress) before it counts as
    starved."""
    max_wait_s: float = 0.25
    """Longest the loop sleeps while offers wait for the budget (new, more urgent offers may come)."""


@dataclass(slots=True)
class CameraSchedule:
    """One camera's standing with the scheduler; its counters are what `/metrics` and camera stats show."""

    camera_id: str
    analysed: int = 0
    deferred: int = 0
    """Offers passed over for more urgent cameras (each offer counted once)."""
    starved: int = 0
    """Analyses that came later than ``min_interval_s`` (+ ``late_slack_s``) after the previous one although a
    frame of the camera was waiting before that deadline: the guarantee was missed."""
    last_analysed_s: float | None = None
    longest_gap_s: float = 0.0
    """Longest time between two analyses of this camera (while it had offers)."""
    need: Need = Need.QUIET
    episode_open: bool = False
    alerted_s: float | None = None
    moving_cost_s: float = 0.0
    still_cost_s: float = 0.0
    _deferred_offer: float | None = None
    _waiting_since: float | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    take: tuple[str, ...]
    """Camera ids whose offers the detector takes now, most urgent first."""
    estimate_s: float
    """Expected model time of this batch."""
    wait_s: float
    """When offers were deferred: how long until the budget can serve the next one."""


@dataclass(frozen=True, slots=True)
class BudgetFigures:
    """The box's model budget, for stats and `/metrics`."""

    budget: float
    available_s: float
    spent_s: float
    """Model seconds spent since start."""
    batches: int
    deferred: int
    starved: int
    busy: float
    """Model seconds per second over the last ``BUSY_WINDOW_S``."""


class Scheduler:
    """Shares the model budget among cameras; not thread-safe (the inference thread owns it)."""

    def __init__(self, config: ScheduleConfig | None = None, *, clock: Clock) -> None:
        self.config = config or ScheduleConfig()
        if self.config.budget <= 0:
            raise ValueError(f"schedule budget must be above 0 model seconds per second, got {self.config.budget}")
        self.clock = clock
        self._cameras: dict[str, CameraSchedule] = {}
        self._tokens = self.config.burst_s
        self._refilled_at = clock.monotonic()
        self.spent_s = 0.0
        self.batches = 0
        self._recent: deque[tuple[float, float]] = deque()

    # ------------------------------------------------------------------ cameras

    def set_cameras(self, camera_ids: Iterable[str]) -> None:
        """The cameras being analysed; a new one starts fresh, a dropped one is forgotten."""
        wanted = set(camera_ids)
        for cid in [c for c in self._cameras if c not in wanted]:
            del self._cameras[cid]
        for cid in wanted:
            if cid not in self._cameras:
                self._cameras[cid] = self._fresh(cid)

    def _fresh(self, camera_id: str) -> CameraSchedule:
        c = self.config
        return CameraSchedule(camera_id, moving_cost_s=c.moving_cost_s, still_cost_s=c.still_cost_s)

    def _camera(self, camera_id: str) -> CameraSchedule:
        state = self._cameras.get(camera_id)
        if state is None:
            state = self._cameras[camera_id] = self._fresh(camera_id)
        return state

    def note(self, open_episodes: Iterable[str], opened: Iterable[str] = ()) -> None:
        """After a batch: the cameras with an open episode now, and those where one just opened."""
        now = self.clock.monotonic()
        open_now = set(open_episodes)
        for cid, state in self._cameras.items():
            state.episode_open = cid in open_now
        for cid in opened:
            self._camera(cid).alerted_s = now

    # ------------------------------------------------------------------ deciding

    def need(self, offer: Offer, now: float) -> Need:
        state = self._camera(offer.camera_id)
        if state.episode_open:
            return Need.EPISODE
        last = state.last_analysed_s
        if last is None or now - last >= self.config.min_interval_s:
            return Need.OVERDUE
        if state.alerted_s is not None and now - state.alerted_s <= self.config.recent_alert_s:
            return Need.ALERTED
        return Need.MOTION if offer.moving else Need.QUIET

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._refilled_at)
        self._tokens = min(self.config.burst_s, self._tokens + elapsed * self.config.budget)
        self._refilled_at = now

    def cost(self, offer: Offer) -> float:
        state = self._camera(offer.camera_id)
        return state.moving_cost_s if offer.moving else state.still_cost_s

    def choose(self, offers: Sequence[Offer]) -> Choice:
        """The offers to analyse now. EPISODE and OVERDUE offers always go; the others while the budget lasts
        (the last one taken may overdraw it: the next batch then waits)."""
        now = self.clock.monotonic()
        self._refill(now)
        ranked = sorted(
            ((self.need(o, now), o) for o in offers),
            key=lambda item: (item[0], self._last(item[1].camera_id), item[1].offered_s, item[1].camera_id),
        )
        take: list[str] = []
        estimate = 0.0
        deferred = False
        for need, offer in ranked:
            state = self._camera(offer.camera_id)
            state.need = need
            if state._waiting_since is None:
                state._waiting_since = offer.offered_s
            if need <= Need.OVERDUE or estimate < min(self._tokens, self.config.max_batch_s):
                take.append(offer.camera_id)
                estimate += self.cost(offer)
                continue
            deferred = True
            if state._deferred_offer != offer.offered_s:
                state._deferred_offer = offer.offered_s
                state.deferred += 1
        wait = 0.0
        if deferred and not take:
            short = max(0.0, estimate - self._tokens) + 1e-3
            wait = min(self.config.max_wait_s, short / self.config.budget)
        return Choice(tuple(take), estimate, wait)

    def _last(self, camera_id: str) -> float:
        last = self._camera(camera_id).last_analysed_s
        return float("-inf") if last is None else last

    def charge(self, analysed: Sequence[Offer], elapsed_s: float) -> None:
        """The batch of ``analysed`` offers took ``elapsed_s`` of model time: spend it from the budget and
        learn each camera's cost (the batch's time shared in proportion to the estimates)."""
        now = self.clock.monotonic()
        self._refill(now)
        self._tokens -= elapsed_s
        self.spent_s += elapsed_s
        self.batches += 1
        self._recent.append((now, elapsed_s))
        while self._recent and self._recent[0][0] < now - BUSY_WINDOW_S:
            self._recent.popleft()
        estimates = [self.cost(o) for o in analysed]
        total = sum(estimates) or 1.0
        learn = self.config.learn
        for offer, estimate in zip(analysed, estimates, strict=True):
            state = self._camera(offer.camera_id)
            share = elapsed_s * estimate / total
            if offer.moving:
                state.moving_cost_s += learn * (share - state.moving_cost_s)
            else:
                state.still_cost_s += learn * (share - state.still_cost_s)
            if state.last_analysed_s is not None:
                gap = now - state.last_analysed_s
                state.longest_gap_s = max(state.longest_gap_s, round(gap, 3))
                deadline = state.last_analysed_s + self.config.min_interval_s
                waiting = state._waiting_since if state._waiting_since is not None else now
                if waiting <= deadline and now > deadline + self.config.late_slack_s:
                    state.starved += 1
            state.last_analysed_s = now
            state.analysed += 1
            state._waiting_since = None

    # ------------------------------------------------------------------ figures

    def figures(self, camera_id: str) -> CameraSchedule | None:
        return self._cameras.get(camera_id)

    def budget(self) -> BudgetFigures:
        """Read from other threads: computes the bucket's level without touching it."""
        now = self.clock.monotonic()
        elapsed = max(0.0, now - self._refilled_at)
        available = min(self.config.burst_s, self._tokens + elapsed * self.config.budget)
        return BudgetFigures(
            budget=self.config.budget,
            available_s=round(available, 4),
            spent_s=round(self.spent_s, 3),
            batches=self.batches,
            deferred=sum(c.deferred for c in list(self._cameras.values())),
            starved=sum(c.starved for c in list(self._cameras.values())),
            busy=round(sum(e for t, e in list(self._recent) if t >= now - BUSY_WINDOW_S) / BUSY_WINDOW_S, 3),
        )
