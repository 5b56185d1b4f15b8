"""Working days in England and Wales: weekends and bank holidays excluded."""

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

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday and not a bank holiday."""
        return day.weekday() < 5 and day not in self._holidays

    def add(self, start: date, count: int) -> date:
        """The `count`-th working day after `start` (start itself does not count)."""
        day, left = start, count
        while left > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def between(self, start: date, end: date) -> int:
        """Working days after `start`, up to and including `end` (0 when end <= start).

        Counted, not walked: weekdays by arithmetic, less the weekday bank holidays in range
        (a clock open for years costs the same as one open for a day).
        """
        if end <= start:
            return 0
        self._cover(start.year, end.year)
        holidays_in_range = bisect.bisect_right(self._weekday_holidays, end) - bisect.bisect_right(
            self._weekday_holidays, start
        )
        return _weekdays_through(end) - _weekdays_through(start) - holidays_in_range

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
