"""Per-reason log throttling: each reason speaks at most once per period, and the lines it
held back are counted in the next one."""
from degram_core.runtime.throttle import Throttle


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_each_reason_has_its_own_period_and_counts_what_it_held_back():
    clock = Clock()
    throttle = Throttle(period_s=5.0, clock=clock)
    assert throttle("empty") == 0
    assert throttle("odd_length") == 0  # a new reason speaks at once
    assert [throttle("empty") for _ in range(1000)] == [None] * 1000
    clock.now = 4.9
    assert throttle("empty") is None
    clock.now = 5.0
    assert throttle("empty") == 1001  # the lines held back, reported with the next one
    assert throttle("odd_length") == 0
    assert throttle("empty") is None
