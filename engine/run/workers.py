"""Worker processes for a batch: each is started once (it opens the rules), then does one piece of work at a
time; the answers come back in input order.

Not multiprocessing.Pool: the pool's thread that watches its workers wakes
whenever an answer is waiting to be read and spins until it is, which in a
two-job batch kept a tenth of a core from the workers. Here the parent reads
answers on its own thread, one thread sends the work (so that a full pipe can
never block the reading), and nothing polls. Each worker has a pipe of work of
its own, so the parent knows which pieces a worker held when it dies: the
answers before them still come out, then the batch says what happened.
"""
from __future__ import annotations

import queue
from collections import deque
import signal
import threading
from multiprocessing import connection
from multiprocessing.reduction import ForkingPickler
from typing import Callable, Iterable, Iterator

from ..core.diagnostics import KmoRulesError


def start_context():
    """How workers start: forked when this process has one thread (they inherit what it has opened and built),
    else from a fresh server process (forking a process with threads is not safe), else spawned."""
    import multiprocessing
    methods = multiprocessing.get_all_start_methods()
    method = "fork" if "fork" in methods and threading.active_count() == 1 else (
        "forkserver" if "forkserver" in methods else "spawn")
    return multiprocessing.get_context(method)


class WorkerLost(KmoRulesError):
    """A worker process ended before answering (killed, out of memory)."""


class Later:
    """An answer that must wait for something (a worker's turn to write its block, say). The worker goes on
    with its next piece of work meanwhile, and between pieces finishes each Later that is `ready()`; when it
    has nothing else to do, it waits in `finish()` for the oldest. What `finish()` returns (or raises) is the
    answer."""

    __slots__ = ("ready", "finish")

    def __init__(self, ready: Callable[[], bool], finish: Callable[[], object]):
        self.ready, self.finish = ready, finish


def _serve(number: int, tasks, answers, answers_lock, start: Callable, start_args: tuple, work: Callable) -> None:
    """A worker's life: start once, then work until told to stop (None) or the parent has gone (its pipe ends)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the parent's to handle: it stops us
    try:
        start(*start_args)
        failed = None
    except BaseException as error:  # the start's error is every piece of work's answer: said by the parent
        failed = error
    waiting: deque = deque()  # (index, Later), oldest first

    def send(index: int, ok: bool, value) -> bool:
        if ok and isinstance(value, Later):
            try:
                value = value.finish()
            except BaseException as error:
                ok, value = False, error
        try:
            data = ForkingPickler.dumps((number, index, ok, value))
        except Exception as error:  # an answer that cannot travel is said, not lost
            data = ForkingPickler.dumps((number, index, False,
                                         WorkerLost(f"a worker's answer could not be sent: {error}")))
        try:
            with answers_lock:
                answers.send_bytes(data)
        except OSError:  # the parent has gone
            return False
        return True

    while True:
        while waiting and waiting[0][1].ready():
            index, later = waiting.popleft()
            send(index, True, later)
        try:
            if waiting and not tasks.poll():  # nothing else to do: wait for the oldest
                index, later = waiting.popleft()
                send(index, True, later)
                continue
            task = tasks.recv()
        except (EOFError, OSError):
            task = None
        if task is None:
            while waiting:
                index, later = waiting.popleft()
                send(index, True, later)
            return
        index, item = task
        try:
            if failed is not None:
                raise failed
            value = work(item)
        except BaseException as error:  # sent back, raised in the parent at its place
            send(index, False, error)
            continue
        if isinstance(value, Later):
            waiting.append((index, value))
        else:
            send(index, True, value)


class Workers:
    """`jobs` processes of `context`, each running `start(*start_args)` once, then `work(item)` on the items of
    `in_order`. Use as a context manager: on leaving normally they are stopped and joined; on an error, an
    interrupt or an early stop, terminated at once, after `before_terminating()` (which may, say, let a worker
    finish the line it is writing)."""

    def __init__(self, context, jobs: int, start: Callable, start_args: tuple, work: Callable,
                 before_terminating: Callable[[], None] | None = None):
        self._before_terminating = before_terminating
        self._answers, answers_writer = context.Pipe(duplex=False)
        # kept while the workers live: a fresh process opens it by name after start() has let go of its arguments
        self._answers_lock = answers_lock = context.Lock()
        readers, self._tasks = zip(*(context.Pipe(duplex=False) for _ in range(jobs)))
        self._processes = [
            context.Process(target=_serve, daemon=True, name=f"kmo-rules worker {number + 1}",
                            args=(number, readers[number], answers_writer, answers_lock, start, start_args, work))
            for number in range(jobs)]
        try:
            for process in self._processes:
                process.start()
        finally:
            for end in (*readers, answers_writer):  # the parent only writes work and reads answers: when a
                end.close()                          # worker has gone, its pipes say so instead of blocking
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._sender = threading.Thread(target=self._send, name="kmo-rules work sender", daemon=True)
        self._sender.start()

    def _send(self) -> None:
        while True:
            task = self._outbox.get()
            if task is None:
                return
            number, data = task
            try:
                self._tasks[number].send_bytes(data)
            except OSError:  # that worker has gone: the reading side says why
                continue

    def in_order(self, items: Iterable, depth: int) -> Iterator:
        """`work(item)` of each item, in input order. Each worker holds at most `depth` items at a time, and the
        batch at most `depth` per worker between the oldest unanswered item and the newest (so memory stays flat
        however many there are). A work's exception is raised at its place, after every answer before it; so is
        an exception of the items themselves, and the loss of a worker that held an item."""
        items = iter(items)
        window = depth * len(self._processes)
        holding: list[list[int]] = [[] for _ in self._processes]  # the items each worker has, oldest first
        alive = set(range(len(self._processes)))
        lost: dict[int, str] = {}  # item -> how the worker that held it ended
        ended = [""]  # how the last worker to end ended
        answered: dict[int, tuple[bool, object]] = {}
        sent = wanted = 0
        failure: BaseException | None = None
        while True:
            while failure is None and sent - wanted < window:
                if not alive:
                    raise WorkerLost(f"every worker process ended before the work was done ({ended[0]})")
                number = min(alive, key=lambda n: len(holding[n]))
                if len(holding[number]) >= depth:
                    break
                try:
                    item = next(items)
                except StopIteration:
                    failure = StopIteration()
                    break
                except Exception as error:  # a bad input: raised once the answers before it are out
                    failure = error
                    break
                self._outbox.put((number, ForkingPickler.dumps((sent, item))))
                holding[number].append(sent)
                sent += 1
            if wanted == sent:
                if failure is not None and not isinstance(failure, StopIteration):
                    raise failure
                return
            while wanted not in answered:
                if wanted in lost:
                    raise WorkerLost(f"a worker process ended before its work was done ({lost[wanted]})")
                self._receive(holding, alive, lost, ended, answered)
            ok, value = answered.pop(wanted)
            wanted += 1
            if not ok:
                raise value
            yield value

    def _receive(self, holding: list[list[int]], alive: set[int], lost: dict[int, str], ended: list[str],
                 answered: dict) -> None:
        """The next answer, or the end of a worker (whose items are then lost)."""
        watched = {self._processes[n].sentinel: n for n in alive}
        ready = connection.wait([self._answers, *watched])
        if self._answers in ready:
            try:
                number, index, ok, value = self._answers.recv()
            except EOFError:  # every worker has gone; their sentinels say how
                pass
            else:
                holding[number].remove(index)
                answered[index] = (ok, value)
                return
        for sentinel, number in watched.items():
            process = self._processes[number]
            if sentinel in ready and not process.is_alive() and not self._answers.poll():
                code = process.exitcode
                how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
                alive.discard(number)
                ended[0] = how
                lost.update((index, how) for index in holding[number])
                holding[number].clear()

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            self.close()
        else:
            self.terminate()

    def close(self) -> None:
        """Every worker told to stop once its work is done, and waited for."""
        stop = ForkingPickler.dumps(None)
        for number in range(len(self._processes)):
            self._outbox.put((number, stop))
        self._outbox.put(None)
        self._sender.join()
        for process in self._processes:
            process.join()
        self._release()

    def terminate(self) -> None:
        """Every worker stopped now (an error, an interrupt, a caller that stopped reading)."""
        if self._before_terminating is not None:
            self._before_terminating()
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join()
        self._outbox.put(None)
        self._release()

    def _release(self) -> None:
        for end in (*self._tasks, self._answers):
            end.close()
        for process in self._processes:
            process.close()
