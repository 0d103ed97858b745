"""The tamper-evident history of cases and deliberation topics: chaining events as they are
written, sealing daily roots, and verifying everything (`minqing audit verify`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from server.domain import audit
from server.models import AuditRoot, Case, CaseEvent, Topic, TopicEvent
from server.services.uow import UnitOfWork

_installed = False


def _fields(e: CaseEvent) -> dict[str, Any]:
    return {
        "case_id": e.case_id,
        "seq": e.seq,
        "action": e.action,
        "from_status": e.from_status,
        "to_status": e.to_status,
        "actor_id": e.actor_id,
        "actor_role": e.actor_role,
        "payload": e.payload,
        "created_at": e.created_at,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def _topic_fields(e: TopicEvent) -> dict[str, Any]:
    return {
        "topic_id": e.topic_id,
        "seq": e.seq,
        "action": e.action,
        "from_status": e.from_status,
        "to_status": e.to_status,
        "actor_id": e.actor_id,
        "actor_role": e.actor_role,
        "payload": e.payload,
        "created_at": e.created_at,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def _link(
    session: Session,
    events: list[Any],
    owner: InstrumentedAttribute[Any],
    model: type[Any],
    fields: Callable[[Any], dict[str, Any]],
    subject: str,
) -> None:
    """Hash new events (sorted by owner and seq) onto their owner's chain: the previous
    event is one of this flush or, failing that, the stored one before it."""
    heads: dict[Any, tuple[int, str]] = {}
    for e in events:
        key = getattr(e, owner.key)
        if e.created_at is None:
            e.created_at = datetime.now(UTC)
        head = heads.get(key)
        if head is not None and head[0] == e.seq - 1:
            prev = head[1]
        elif e.seq == 1:
            prev = audit.GENESIS
        else:
            with session.no_autoflush:
                found = session.scalar(
                    select(model.hash).where(owner == key, model.seq == e.seq - 1)
                )
            prev = found or audit.GENESIS
        e.prev_hash = prev
        e.hash = audit.event_hash(prev, fields(e), subject)
        heads[key] = (e.seq, e.hash)


def chain_new_topic_events(session: Session) -> None:
    """Give every new topic event its place in its topic's chain (before it is inserted;
    the topic's id exists already: topics are flushed before their first event)."""
    new = sorted(
        (obj for obj in session.new if isinstance(obj, TopicEvent) and obj.hash is None),
        key=lambda e: (e.topic_id or 0, e.seq or 0),
    )
    for e in new:
        if e.payload is None:
            e.payload = {}
    _link(session, new, TopicEvent.topic_id, TopicEvent, _topic_fields, audit.TOPIC)


def chain_new_events(session: Session) -> None:
    """Give every new case event its place in its case's chain (before it is inserted)."""
    new = sorted(
        (obj for obj in session.new if isinstance(obj, CaseEvent) and obj.hash is None),
        key=lambda e: (e.case_id or (e.case.id if e.case else ""), e.seq or 0),
    )
    for e in new:
        if e.case_id is None and e.case is not None:
            e.case_id = e.case.id  # case ids are made before insert: the hash can name it
    _link(session, new, CaseEvent.case_id, CaseEvent, _fields, audit.CASE)


def install() -> None:
    """Chain case events on every session (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True

    @event.listens_for(Session, "before_flush")
    def _chain(session: Session, _ctx: Any, _instances: Any) -> None:
        chain_new_events(session)
        chain_new_topic_events(session)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _previous_root(uow: UnitOfWork, day: date) -> str:
    root = uow.session.scalar(
        select(AuditRoot.root).where(AuditRoot.day < day).order_by(AuditRoot.day.desc()).limit(1)
    )
    return root or audit.GENESIS


def _hashes_of_day(uow: UnitOfWork, day: date) -> list[str]:
    start, end = _day_bounds(day)
    return [
        h or ""
        for h in uow.session.scalars(
            select(CaseEvent.hash)
            .where(CaseEvent.created_at >= start, CaseEvent.created_at < end)
            .order_by(CaseEvent.id)
        )
    ]


def _topic_hashes_of_day(uow: UnitOfWork, day: date) -> list[str]:
    start, end = _day_bounds(day)
    return [
        h or ""
        for h in uow.session.scalars(
            select(TopicEvent.hash)
            .where(TopicEvent.created_at >= start, TopicEvent.created_at < end)
            .order_by(TopicEvent.id)
        )
    ]


def _expected_root(uow: UnitOfWork, previous: str, row: AuditRoot) -> str:
    hashes = _hashes_of_day(uow, row.day)
    if row.topic_events is not None:  # sealed since topic events are chained
        hashes += _topic_hashes_of_day(uow, row.day)
    return audit.day_root(previous, hashes)


def seal_days(uow: UnitOfWork, until: date | None = None) -> list[AuditRoot]:
    """Publish the root of every finished UTC day not sealed yet, oldest first (idempotent)."""
    last_day = until or (uow.now.astimezone(UTC).date() - timedelta(days=1))
    sealed = uow.session.scalar(select(AuditRoot.day).order_by(AuditRoot.day.desc()).limit(1))
    firsts = [
        t
        for t in (
            uow.session.scalar(select(func.min(CaseEvent.created_at))),
            uow.session.scalar(select(func.min(TopicEvent.created_at))),
        )
        if t is not None
    ]
    if not firsts:
        return []
    first_event = min(t.astimezone(UTC) for t in firsts)
    day = sealed + timedelta(days=1) if sealed else first_event.date()
    out: list[AuditRoot] = []
    while day <= last_day:
        hashes = _hashes_of_day(uow, day)
        topic_hashes = _topic_hashes_of_day(uow, day)
        row = AuditRoot(
            day=day,
            root=audit.day_root(_previous_root(uow, day), hashes + topic_hashes),
            events=len(hashes),
            topic_events=len(topic_hashes),
            computed_at=uow.now,
        )
        uow.session.add(row)
        uow.session.flush()
        out.append(row)
        day += timedelta(days=1)
    return out


def latest_root(uow: UnitOfWork) -> AuditRoot | None:
    return uow.session.scalar(select(AuditRoot).order_by(AuditRoot.day.desc()).limit(1))


def roots(uow: UnitOfWork, first: date, last: date) -> list[AuditRoot]:
    return list(
        uow.session.scalars(
            select(AuditRoot)
            .where(AuditRoot.day >= first, AuditRoot.day <= last)
            .order_by(AuditRoot.day)
        )
    )


@dataclass(frozen=True)
class Finding:
    """The first thing that does not verify."""

    what: str
    case_id: str | None = None
    case_number: str | None = None
    seq: int | None = None
    event_id: int | None = None
    day: date | None = None
    topic_id: int | None = None
    topic_title: str | None = None


def _case_chains(uow: UnitOfWork) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    current: str | None = None
    chain: list[dict[str, Any]] = []
    rows = uow.session.execute(
        select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq)
    ).scalars()
    for e in rows:
        if e.case_id != current:
            if current is not None:
                yield current, chain
            current, chain = e.case_id, []
        chain.append({**_fields(e), "id": e.id})
    if current is not None:
        yield current, chain


def _topic_chains(uow: UnitOfWork) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    current: int | None = None
    chain: list[dict[str, Any]] = []
    rows = uow.session.execute(
        select(TopicEvent).order_by(TopicEvent.topic_id, TopicEvent.seq)
    ).scalars()
    for e in rows:
        if e.topic_id != current:
            if current is not None:
                yield current, chain
            current, chain = e.topic_id, []
        chain.append({**_topic_fields(e), "id": e.id})
    if current is not None:
        yield current, chain


def verify(uow: UnitOfWork) -> tuple[int, int, Finding | None]:
    """Check every case's chain, every topic's chain, then every published root: (events,
    days checked, the first finding or None)."""
    events = 0
    for case_id, chain in _case_chains(uow):
        events += len(chain)
        broken = audit.first_break(chain)
        if broken is not None:
            event_row, why = broken
            number = uow.session.scalar(select(Case.number).where(Case.id == case_id))
            return (
                events,
                0,
                Finding(why, case_id, number, int(event_row["seq"]), int(event_row["id"])),
            )
    for topic_id, topic_chain in _topic_chains(uow):
        events += len(topic_chain)
        broken = audit.first_break(topic_chain, audit.TOPIC)
        if broken is not None:
            event_row, why = broken
            title = uow.session.scalar(select(Topic.title).where(Topic.id == topic_id))
            return (
                events,
                0,
                Finding(
                    why,
                    seq=int(event_row["seq"]),
                    event_id=int(event_row["id"]),
                    topic_id=topic_id,
                    topic_title=title,
                ),
            )
    days = 0
    previous = audit.GENESIS
    for row in uow.session.scalars(select(AuditRoot).order_by(AuditRoot.day)):
        expected = _expected_root(uow, previous, row)
        days += 1
        if expected != row.root:
            return events, days, Finding("the published root does not match", day=row.day)
        previous = row.root
    return events, days, None
