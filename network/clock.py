"""The source of wall-clock time for networking (scores, bans, connection times), passed in so tests
can use a fake one. Deadlines on the event loop (timeouts, pings) use the loop's monotonic clock."""

from chainnode.clock import Clock, SystemClock

__all__ = ["Clock", "SystemClock"]
