"""One unit of work per service call: `@transactional` entry points, `after_commit` callbacks.

The outermost decorated call (or `with transaction():` block) commits when it returns and
rolls back when it raises; decorated calls made inside it join it, so inner helpers never
commit and never discard their caller's pending work. Depth and the pending callbacks live
in the session's `info`, i.e. per app context (Flask-SQLAlchemy scopes the session so).

A service that commits in several steps on purpose (progress of a long job, a row saved
before a provider is called) either runs each step in its own `with transaction():` from an
undecorated loop, or calls `checkpoint()`, and says why beside it.
"""
import functools
import logging
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from sqlalchemy import update

from app.extensions import db

F = TypeVar("F", bound=Callable[..., Any])

_DEPTH = "jianpei.tx_depth"
_CALLBACKS = "jianpei.after_commit"
_UNDO = "jianpei.after_rollback"

log = logging.getLogger(__name__)


def _session():
    return db.session()  # the app context's Session, not the scoped proxy


def in_transaction() -> bool:
    """True inside a decorated call or a `transaction()` block."""
    return _session().info.get(_DEPTH, 0) > 0


@contextmanager
def transaction() -> Iterator[Any]:
    """A unit of work: commits at the end of the outermost block, rolls back if it raises."""
    session = _session()
    info = session.info
    depth = info.get(_DEPTH, 0)
    info[_DEPTH] = depth + 1
    if depth:  # join the caller's unit of work
        try:
            yield session
        finally:
            info[_DEPTH] = depth
        return
    try:
        yield session
        session.commit()
    except BaseException:
        info.pop(_CALLBACKS, None)
        undo = info.pop(_UNDO, [])
        info[_DEPTH] = 0
        session.rollback()
        for fn, args, kwargs in undo:
            try:
                fn(*args, **kwargs)
            except Exception:  # noqa: BLE001 - the original error is the one to raise
                log.exception("after_rollback %r failed", fn)
        raise
    finally:
        info[_DEPTH] = 0
    info.pop(_UNDO, None)
    _run_callbacks(session)


def transactional(fn: F) -> F:
    """Run a service entry point as one unit of work (joining the caller's, if any)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with transaction():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def after_commit(fn: Callable[..., Any], *args, **kwargs) -> None:
    """Run fn(*args, **kwargs) once the outermost unit of work has committed; never if it
    rolls back. For enqueueing tasks that must see what this transaction writes."""
    info = _session().info
    if not info.get(_DEPTH, 0):
        raise RuntimeError("after_commit() outside a transaction: decorate the entry point "
                           "with @transactional")
    info.setdefault(_CALLBACKS, []).append((fn, args, kwargs))


def after_rollback(fn: Callable[..., Any], *args, **kwargs) -> None:
    """Run fn(*args, **kwargs) if the outermost unit of work rolls back; never if it commits.
    For undoing what the database cannot: e.g. deleting files written for rows not kept."""
    info = _session().info
    if not info.get(_DEPTH, 0):
        raise RuntimeError("after_rollback() outside a transaction: decorate the entry point "
                           "with @transactional")
    info.setdefault(_UNDO, []).append((fn, args, kwargs))


def checkpoint(session=None) -> None:
    """Commit the work so far, inside a unit of work that saves in several steps on purpose.

    Callbacks registered so far run now (their data is saved). Use only where a step must be
    durable before the next (a message recorded before the provider is called, per-row
    progress of a long job); a later error rolls back only what came after. `session`: the
    unit's own, where the step runs inside another app context (default: this one's).
    """
    session = session or _session()
    session.commit()
    session.info.pop(_UNDO, None)  # what is committed stays
    _run_callbacks(session)


def _run_callbacks(session) -> None:
    """Run the callbacks of what was just committed, each as the outermost unit of work."""
    info = session.info
    depth = info.get(_DEPTH, 0)
    while info.get(_CALLBACKS):
        callbacks = info.pop(_CALLBACKS)
        info[_DEPTH] = 0  # a task run synchronously (huey immediate) opens its own unit
        try:
            for fn, args, kwargs in callbacks:
                fn(*args, **kwargs)
        finally:
            info[_DEPTH] = depth


def lock(model: type, row_id: Any) -> Any:
    """Hold the row `row_id` of `model` for the rest of this unit of work, and return it.

    Use it before reading a count that a write depends on ("at most N per …"): whoever locks the
    same row second waits until the first unit ends, then reads the committed count.
    PostgreSQL: SELECT … FOR UPDATE. SQLite ignores FOR UPDATE and its driver opens the
    transaction only at the first write, so there the lock is a write that changes nothing
    (it takes the database's one write lock at once; others wait up to busy_timeout).
    """
    if not in_transaction():
        raise RuntimeError("lock() outside a transaction: decorate the entry point with "
                           "@transactional")
    session = _session()
    if session.get_bind().dialect.name == "sqlite":
        key = model.__mapper__.primary_key[0]
        session.execute(update(model).where(key == row_id).values({key.key: key})
                        .execution_options(synchronize_session=False))
        return session.get(model, row_id)
    return session.get(model, row_id, with_for_update=True)
