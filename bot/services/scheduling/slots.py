"""Proposing times for a chat: a pure function of plain data (no database, no clock, no Slack).

Each person brings an `Availability`: their time zone, working days and hours,
the public holidays of their country in the window, the part of the day they
prefer for chats, and busy intervals (from a calendar provider; none by
default). `propose_slots` returns 3–5 slots in the next working days that
fall inside everyone's hours, spread over different days and times of day;
when everyone's hours never overlap it returns the least-bad slots instead,
each flagged with whom it is early or late for.

Rules, for every slot:
- it starts at least `lead` (2 hours) after `now`, on a :00/:15/:30/:45 boundary;
- on each person's own local date it is a working day of theirs and not a
  public holiday of their country (so never a weekend with the default days);
- with overlap: it lies wholly inside each person's working hours, wall-clock,
  whatever DST does in between;
- the window is the next `working_days` working days of the first person (the
  learner of a request, the first member of a weekly pairing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from bot import clock

WEEKDAYS: frozenset[int] = frozenset(range(5))  # Monday=0 … Friday=4
DEFAULT_START = time(10, 0)
DEFAULT_END = time(17, 0)
BEST_TIMES = ("any", "mornings", "afternoons")
CHAT_LENGTHS = (20, 30)
DEFAULT_CHAT_MINUTES = 30
LEAD = timedelta(hours=2)
STEP = timedelta(minutes=15)
NOON = time(12, 0)
# Least-bad slots are looked for only where nobody is asked before 07:00 or after 21:00.
EARLIEST_LEAST_BAD = time(7, 0)
LATEST_LEAST_BAD = time(21, 0)
# How far around a part of the day candidates are still looked at: a DST change moves wall
# clocks by an hour at most, except Antarctica/Troll's two.
DAY_SLACK = timedelta(hours=2)


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True)
class Availability:
    """When one person can chat, as plain data.

    Each test has two forms: one taking instants (for callers) and one taking this
    person's local wall-clock times, which a proposal computes once per instant (see
    `_Walls`) because converting time zones was most of its cost.
    """

    tz: str = "UTC"
    days: frozenset[int] = WEEKDAYS
    start: time = DEFAULT_START
    end: time = DEFAULT_END
    best: str = "any"  # "mornings" | "afternoons" | "any"
    holidays: frozenset[date] = frozenset()
    busy: tuple[Interval, ...] = ()

    @cached_property
    def zone(self) -> ZoneInfo:
        return clock.zone(self.tz)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)

    def outside_minutes(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(minutes the slot starts before this person's hours, minutes it ends after them)."""
        return self.outside_minutes_local(self.local(start), self.local(end))

    def outside_minutes_local(self, s: datetime, e: datetime) -> tuple[int, int]:
        day = s.date()
        early = _minutes(self.start) - _minutes(s.time())
        end_minutes = _minutes(e.time()) if e.date() == day else _minutes(e.time()) + 24 * 60
        late = end_minutes - _minutes(self.end)
        return max(early, 0), max(late, 0)

    def inside(self, start: datetime, end: datetime) -> bool:
        """Wholly inside this person's working hours on a working day of theirs."""
        return self.inside_local(self.local(start), self.local(end))

    def inside_local(self, s: datetime, e: datetime) -> bool:
        if s.date() != e.date() or not self.is_working_day(s.date()):
            return False
        return self.start <= s.time() and e.time() <= self.end and s.time() < e.time()

    def free(self, start: datetime, end: datetime) -> bool:
        return not any(b.overlaps(start, end) for b in self.busy)

    def prefers(self, start: datetime) -> bool:
        return self.prefers_local(self.local(start))

    def prefers_local(self, s: datetime) -> bool:
        if self.best == "mornings":
            return s.time() < NOON
        if self.best == "afternoons":
            return s.time() >= NOON
        return True


class _Walls:
    """Everyone's local wall clock at the instants one proposal looks at, each converted once.

    A proposal looks at every 15-minute start of a week several times per person (working
    day, same date at the end, inside hours, preference, round minutes, spread): converting
    each time again made a proposal cost ~18 ms, a quarter of the demo's history.
    """

    def __init__(self, people: Sequence[Availability]) -> None:
        self._zones = [p.zone for p in people]
        self._seen: dict[datetime, tuple[datetime, ...]] = {}

    def __call__(self, instant: datetime) -> tuple[datetime, ...]:
        walls = self._seen.get(instant)
        if walls is None:
            walls = self._seen[instant] = tuple(instant.astimezone(zone) for zone in self._zones)
        return walls


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    # Indexes into the people given to propose_slots: whom this slot is early / late for.
    early_for: tuple[int, ...] = ()
    late_for: tuple[int, ...] = ()

    @property
    def inside_hours(self) -> bool:
        return not self.early_for and not self.late_for


@dataclass(frozen=True)
class Proposal:
    slots: list[Slot] = field(default_factory=list)
    overlap: bool = True  # False: nobody's hours meet, these are the least-bad times


def _first_start(now: datetime, lead: timedelta) -> datetime:
    earliest = now.astimezone(UTC) + lead
    floor = earliest.replace(minute=earliest.minute - earliest.minute % 15, second=0, microsecond=0)
    return floor if floor >= earliest else floor + STEP


def window_days(first: Availability, now: datetime, count: int) -> list[date]:
    """The next `count` working days of `first`, today included (in their zone)."""
    day = first.local(now).date()
    days: list[date] = []
    for _ in range(count * 7 + 31):  # bounded even if someone works one day a week around holidays
        if first.is_working_day(day):
            days.append(day)
            if len(days) == count:
                break
        day += timedelta(days=1)
    return days


def _candidates(
    people: Sequence[Availability],
    walls: _Walls,
    now: datetime,
    minutes: int,
    working_days: int,
    lead: timedelta,
    hours: tuple[time, time] | None = None,
) -> list[datetime]:
    """Starts on a 15-minute step in the window, on everyone's working day, nobody busy; with
    `hours`, only those near that part of the first person's day.

    Every slot a proposal offers starts inside a known part of the first person's day
    (their working hours, or 07:00–21:00 for least-bad times), so the rest of the day is
    skipped instead of tested. The stretch is widened by DAY_SLACK on both sides, so a DST
    change that night cannot move a wanted start out of it; the tests still decide.
    """
    if not people:
        return []
    days = window_days(people[0], now, working_days)
    if not days:
        return []
    first = people[0]
    begin = max(_first_start(now, lead), datetime.combine(days[0], time(0), first.zone).astimezone(UTC))
    stop = datetime.combine(days[-1] + timedelta(days=1), time(0), first.zone).astimezone(UTC)
    wanted = set(days)
    length = timedelta(minutes=minutes)
    if hours is None:
        stretches = [(begin, stop)]
    else:
        stretches = [
            (
                datetime.combine(day, hours[0], first.zone).astimezone(UTC) - DAY_SLACK,
                datetime.combine(day, hours[1], first.zone).astimezone(UTC) + DAY_SLACK,
            )
            for day in days
        ]
    starts: list[datetime] = []
    moment = begin
    for low, high in stretches:
        if moment < low:  # the next start on the grid from `begin`, at or after `low`
            moment = begin + STEP * -((begin - low) // STEP)
        while moment <= high and moment + length <= stop:
            end = moment + length
            at_start, at_end = walls(moment), walls(end)
            if (
                at_start[0].date() in wanted
                and all(p.is_working_day(s.date()) for p, s in zip(people, at_start, strict=True))
                and all(s.date() == e.date() for s, e in zip(at_start, at_end, strict=True))
                and all(p.free(moment, end) for p in people)
            ):
                starts.append(moment)
            moment += STEP
    return starts


def _slot(people: Sequence[Availability], walls: _Walls, start: datetime, minutes: int) -> Slot:
    end = start + timedelta(minutes=minutes)
    early, late = [], []
    for index, (person, s, e) in enumerate(zip(people, walls(start), walls(end), strict=True)):
        before, after = person.outside_minutes_local(s, e)
        if before:
            early.append(index)
        if after:
            late.append(index)
    return Slot(start, end, tuple(early), tuple(late))


def _hour_of_day(walls: _Walls, start: datetime) -> float:
    local = walls(start)[0]
    return local.hour + local.minute / 60


def _spread(walls: _Walls, starts: list[datetime], count: int, cost: dict[datetime, float]) -> list[datetime]:
    """Pick up to `count` starts: cheapest first, then one per day before a second on any day,
    each as far in time of day from those already picked as the cost allows."""
    chosen: list[datetime] = []
    used_days: dict[date, int] = {}
    while len(chosen) < count:
        best: tuple[float, datetime] | None = None
        for start in starts:
            if start in chosen:
                continue
            day = walls(start)[0].date()
            if any(abs((start - c).total_seconds()) < 3600 * 2 for c in chosen if day == walls(c)[0].date()):
                continue  # two slots on one day stay at least two hours apart
            hour = _hour_of_day(walls, start)
            distance = min((abs(hour - _hour_of_day(walls, c)) for c in chosen), default=8.0)
            score = cost[start] * 10 + used_days.get(day, 0) * 100 - min(distance, 4.0)
            if best is None or (score, start) < best:
                best = (score, start)
        if best is None:
            break
        chosen.append(best[1])
        day = walls(best[1])[0].date()
        used_days[day] = used_days.get(day, 0) + 1
    return sorted(chosen)


def propose_slots(
    people: Sequence[Availability],
    now: datetime,
    *,
    minutes: int = DEFAULT_CHAT_MINUTES,
    count: int = 5,
    working_days: int = 5,
    lead: timedelta = LEAD,
) -> Proposal:
    """3–5 slots for everyone in `people` (a pair or a trio); see the module's rules."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    walls = _Walls(people)
    length = timedelta(minutes=minutes)
    hours = (people[0].start, people[0].end) if people else None
    near_hours = _candidates(people, walls, now, minutes, working_days, lead, hours)
    inside = [
        s
        for s in near_hours
        if all(p.inside_local(a, b) for p, a, b in zip(people, walls(s), walls(s + length), strict=True))
    ]
    if inside:
        # Prefer times in everyone's favourite part of the day; otherwise any inside time.
        cost = {
            s: sum(1 for p, a in zip(people, walls(s), strict=True) if not p.prefers_local(a))
            + _unround(walls, s)
            for s in inside
        }
        return Proposal([_slot(people, walls, s, minutes) for s in _spread(walls, inside, count, cost)])
    daytime = _candidates(
        people, walls, now, minutes, working_days, lead, (EARLIEST_LEAST_BAD, LATEST_LEAST_BAD)
    )
    least_bad = _least_bad(walls, daytime, minutes)
    if not least_bad:
        return Proposal([], overlap=False)
    # Minutes outside someone's hours: the worst person first, then everyone's total.
    cost = {}
    for start in least_bad:
        outside = [
            sum(p.outside_minutes_local(a, b))
            for p, a, b in zip(people, walls(start), walls(start + length), strict=True)
        ]
        cost[start] = max(outside) / 30 + sum(outside) / 300 + _unround(walls, start)
    floor = min(cost.values())
    # Only the nearly-best (within an hour of the best) are offered: least bad, not merely bad.
    near = [s for s in least_bad if cost[s] <= floor + 2]
    return Proposal(
        [_slot(people, walls, s, minutes) for s in _spread(walls, near, count, cost)], overlap=False
    )


def _unround(walls: _Walls, start: datetime) -> float:
    """A small cost for each person who would read :15 or :45: round times are easier to remember."""
    return 0.3 * sum(1 for local in walls(start) if local.minute % 30)


def _least_bad(walls: _Walls, starts: list[datetime], minutes: int) -> list[datetime]:
    length = timedelta(minutes=minutes)
    kept = []
    for start in starts:
        if all(
            s.time() >= EARLIEST_LEAST_BAD and e.time() <= LATEST_LEAST_BAD and e.date() == s.date()
            for s, e in zip(walls(start), walls(start + length), strict=True)
        ):
            kept.append(start)
    return kept


def slot_for(people: Sequence[Availability], start: datetime, minutes: int) -> Slot:
    """A slot someone suggested themselves, flagged like proposed ones."""
    return _slot(people, _Walls(people), start.astimezone(UTC), minutes)


def chat_minutes(lengths: Sequence[int | None]) -> int:
    """A pairing's length: the shortest anyone asked for (20 or 30), 30 when nobody said."""
    given = [n for n in lengths if n in CHAT_LENGTHS]
    return min(given) if given else DEFAULT_CHAT_MINUTES


def working_days_between(start: date, end: date, days: frozenset[int] = WEEKDAYS) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if day.weekday() in days:
            count += 1
    return count


def add_working_days(start: datetime, count: int, availability: Availability) -> datetime:
    """The same local time `count` working days (theirs, holidays excluded) after `start`."""
    local = availability.local(start)
    day, remaining = local.date(), count
    while remaining > 0:
        day += timedelta(days=1)
        if availability.is_working_day(day):
            remaining -= 1
    return datetime.combine(day, local.time(), availability.zone).astimezone(UTC)
