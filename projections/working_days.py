"""Working days in England and Wales: weekends and bank holidays excluded."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


class WorkingDays:
    """A calendar of England & Wales working days, from the maintained `holidays` library."""

    def __init__(self) -> None:
        # Bank holidays are the same in England and Wales; the library expands years lazily.
        self._holidays = holidays.country_holidays("GB", subdiv="ENG")

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
        """Working days after `start`, up to and including `end` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count


@lru_cache(maxsize=1)
def england_and_wales() -> WorkingDays:
    """The one calendar a process needs."""
    return WorkingDays()
