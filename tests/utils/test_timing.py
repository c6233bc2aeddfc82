import time

from jlonevae_lib.utils.timing import best_time, call_seconds, median_time


def test_timings_call_the_function_each_time_and_summarise():
    delays = iter([0.03, 0.0, 0.01])
    calls = []

    def sleeper() -> None:
        calls.append(1)
        time.sleep(next(delays))

    seconds = call_seconds(sleeper, 3)
    assert len(calls) == 3 and seconds[0] >= 0.03 and seconds[1] < seconds[0]
    delays = iter([0.02, 0.0, 0.01])
    assert best_time(sleeper, 3) < 0.01
    delays = iter([0.02, 0.0, 0.01])
    assert 0.01 <= median_time(sleeper, 3) < 0.02
