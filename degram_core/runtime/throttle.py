"""Log lines at most once per period for each reason, counting the ones held back.

rclpy's own throttle is keyed on the calling line, so one warning call for several reasons
shows only whichever came first; a flood of one reason (6,162 "stamps went backwards" lines
in one fuzz run) must not bury the log either.
"""
from __future__ import annotations

import threading
import time
from collections import Counter


class Throttle:
    def __init__(self, period_s: float = 5.0, clock=time.monotonic):
        self.period_s, self.clock = period_s, clock
        self.last: dict[str, float] = {}
        self.held = Counter()
        self.lock = threading.Lock()

    def __call__(self, key: str) -> int | None:
        """None: stay quiet this time; else how many lines of `key` were held back since the
        last one shown."""
        with self.lock:
            now = self.clock()
            last = self.last.get(key)
            if last is not None and now - last < self.period_s:
                self.held[key] += 1
                return None
            self.last[key] = now
            return self.held.pop(key, 0)
