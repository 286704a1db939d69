"""gunicorn's threaded worker, taking at most one new connection per request it finishes.

All worker processes wait on one listening socket, and the kernel wakes every one of them
for each new connection: the process that runs first accepts it, and the next, and so on.
A client that opens 32 kept-alive connections at once (wrk, a load balancer's pool) was seen
to land 31 of them on one process, which served them on one core (one GIL) while the others
idled: Start then ran at 0.4x-1.06x the bare loop, depending on the draw.

Here a process that has just accepted a connection stops polling the listening socket until
it finishes a request. The other processes, woken for the same connections, take the rest,
so connections spread in proportion to how fast each process serves; and as every finished
request lets one more in, a new connection waits in the kernel's queue about as long as a
request takes. (Not if each process's newest connection sends nothing: then it waits for
gunicorn to give up on those, after 5 s.)
(Accepting only while a thread is free spreads them too, but starves new connections for
seconds once kept-alive ones keep every thread busy.) gunicorn's ``reuse_port`` (a socket
per process) would also spread them, but resets the connections still queued on the socket
of a process that stops or is recycled (``max_requests``).
"""

from __future__ import annotations

from typing import Any

from gunicorn.workers.gthread import ThreadWorker


class FairThreadWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.may_accept = True  # the main loop's own flag: only its thread reads or sets it
        super().__init__(*args, **kwargs)

    # gthread's main loop polls the listening socket while nr_conns < worker_connections;
    # reading the limit as "no more than now" while a new connection waits for its turn adds
    # this worker's condition to that loop without copying it.
    @property
    def worker_connections(self) -> int:
        return self._connection_cap if self.may_accept else min(self._connection_cap, self.nr_conns)

    @worker_connections.setter
    def worker_connections(self, cap: int) -> None:
        self._connection_cap = cap

    def accept(self, listener: Any) -> None:
        before = self.nr_conns
        super().accept(listener)
        if self.nr_conns > before:
            self.may_accept = False

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.may_accept = True
        super().finish_request(conn, fs)
