"""Working days in England and Wales, counted as the children in need census counts them.

Weekends and England & Wales bank holidays are not working days. The day a clock starts is
day 0 and the next working day is day 1; a start on a day that is not a working day counts
from the next working day, which is then day 0 (so a referral on a Saturday is decided
within 1 working day on the Tuesday). This is what the census's working-day columns give
(the NETWORKDAYS of start and end, less one, and never below 0).
"""

from __future__ import annotations

import bisect
from datetime import date, timedelta
from functools import lru_cache

import holidays


class WorkingDays:
    """A calendar of England & Wales working days, from the maintained `holidays` library."""

    def __init__(self) -> None:
        # Bank holidays are the same in England and Wales; the library expands years lazily.
        self._holidays = holidays.country_holidays("GB", subdiv="ENG")
        self._years: set[int] = set()
        self._weekday_holidays: list[date] = []  # sorted, for counting by bisection
        # Working days already walked, by day 0 and count: many runs start on the same day.
        self._added: dict[tuple[date, int], date] = {}

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday and not a bank holiday."""
        return day.weekday() < 5 and day not in self._holidays

    def day_zero(self, start: date) -> date:
        """The day counting starts from: `start` if a working day, else the next one."""
        day = start
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add(self, start: date, count: int) -> date:
        """The `count`-th working day after day 0 of a start on `start`."""
        key = (self.day_zero(start), count)
        if key not in self._added:
            day, left = key
            while left > 0:
                day += timedelta(days=1)
                if self.is_working_day(day):
                    left -= 1
            self._added[key] = day
        return self._added[key]

    def between(self, start: date, end: date) -> int:
        """Working days from day 0 of a start on `start` to `end` (0 when end is not later).

        Counted, not walked: weekdays by arithmetic, less the weekday bank holidays in range
        (a clock open for years costs the same as one open for a day).
        """
        first = self.day_zero(start)
        if end <= first:
            return 0
        self._cover(first.year, end.year)
        holidays_in_range = bisect.bisect_right(self._weekday_holidays, end) - bisect.bisect_right(
            self._weekday_holidays, first
        )
        return _weekdays_through(end) - _weekdays_through(first) - holidays_in_range

    def _cover(self, first: int, last: int) -> None:
        missing = [y for y in range(first, last + 1) if y not in self._years]
        if not missing:
            return
        found = holidays.country_holidays("GB", subdiv="ENG", years=missing)
        self._years.update(missing)
        days = {d for d in found if d.weekday() < 5}
        self._weekday_holidays = sorted(set(self._weekday_holidays) | days)


def _weekdays_through(day: date) -> int:
    """Monday-to-Friday days from 1 January of year 1 (a Monday) up to and including `day`."""
    weeks, rest = divmod(day.toordinal(), 7)
    return weeks * 5 + min(rest, 5)


@lru_cache(maxsize=1)
def england_and_wales() -> WorkingDays:
    """The one calendar a process needs."""
    return WorkingDays()
