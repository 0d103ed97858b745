"""Applying a phone's pushed records through the same services as the API.

Each function gets one raw record and either applies it (returning whether the stored
record now differs from what the phone sent, so the phone gets it back) or raises
`Refused` with the reason — never a half-applied record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.errors import DomainError
from server.extensions import db
from server.models import Case, Category, Patrol, PatrolLog
from server.models.base import utcnow
from server.services.caseloop import cases as case_service
from server.services.patrolling import patrols as patrol_service
from server.services.people.principal import Principal
from server.services.syncing.sync_tables import log_as_raw
from server.services.uow import UnitOfWork
from sync.idsets import among
from sync.push import LOCAL_COLUMNS
from sync.registry import DeviceContext, Edit, Operation, Raw, Refused

MAX_PHOTOS = 9
MAX_TRACK_POINTS = 20_000  # the whole track so far: 5.5 h at one point a second


# --- reading a pushed record's fields (each fault a Refused naming the field) ----------


def from_millis(value: Any, field: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused(
            "sync_bad_value",
            f"{field}: milliseconds since the epoch expected",
            f"字段 {field} 应为毫秒时间戳",
            field=field,
        )
    try:
        moment = datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise Refused(
            "sync_bad_value", f"{field}: out of range", f"字段 {field} 超出范围", field=field
        ) from exc
    if not 2000 <= moment.year <= 2100:
        raise Refused(
            "sync_bad_value",
            f"{field}: not between 2000 and 2100",
            f"字段 {field} 不在 2000–2100 年之间",
            field=field,
        )
    return moment


def refused_from(error: DomainError) -> Refused:
    return Refused(error.code, error.message, error.message_zh, error.field)


def _json_list(raw: Raw, field: str) -> list[Any]:
    value = raw.get(field)
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, list):
        raise Refused(
            "sync_bad_value",
            f"{field}: a JSON array expected",
            f"字段 {field} 应为 JSON 数组",
            field=field,
        )
    return parsed


def _text(raw: Raw, field: str, *, required: bool = True, max_len: int = 2000) -> str | None:
    value = raw.get(field)
    if value is None or value == "":
        if required:
            raise Refused(
                "sync_missing_value", f"{field} is required", f"缺少字段 {field}", field=field
            )
        return None
    if not isinstance(value, str):
        raise Refused(
            "sync_bad_value", f"{field}: text expected", f"字段 {field} 应为文本", field=field
        )
    if len(value) > max_len:
        raise Refused(
            "sync_too_long",
            f"{field}: at most {max_len} characters",
            f"字段 {field} 最多 {max_len} 个字符",
            field=field,
        )
    if "\x00" in value:
        raise Refused(
            "sync_bad_value", f"{field}: NUL character", f"字段 {field} 含非法字符", field=field
        )
    return value


def _number(raw: Raw, field: str) -> float:
    value = raw.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise Refused(
            "sync_bad_value", f"{field}: a number expected", f"字段 {field} 应为数字", field=field
        )
    return float(value)


def _ref(raw: Raw, field: str, *, required: bool = True) -> int | None:
    value = raw.get(field)
    if value in (None, ""):
        if required:
            raise Refused(
                "sync_missing_value", f"{field} is required", f"缺少字段 {field}", field=field
            )
        return None
    if not isinstance(value, str) or not value.isdigit() or len(value) > 9:
        raise Refused(
            "sync_bad_value",
            f"{field}: a record id expected",
            f"字段 {field} 应为记录编号",
            field=field,
        )
    return int(value)


def _uow(session: Session) -> UnitOfWork:
    """The push's unit of work, joined (the push commits once, at its end)."""
    return UnitOfWork(session=session, now=utcnow())


def _principal(device: DeviceContext) -> Principal:
    principal = device.principal
    assert isinstance(principal, Principal)
    return principal


def no_delete(table: str) -> Refused:
    return Refused(
        "sync_delete_refused",
        f"{table} are kept on the server and cannot be deleted from a phone",
        "该记录需在服务器保留，手机端不能删除",
        field="id",
    )


def _crs(raw: Raw) -> str:
    crs = raw.get("crs") or "wgs84"
    if crs not in ("wgs84", "gcj02", "bd09"):
        raise Refused(
            "sync_bad_value",
            "crs: wgs84, gcj02 or bd09",
            "字段 crs 应为 wgs84、gcj02 或 bd09",
            field="crs",
        )
    return str(crs)


def _category_code(raw: Raw, *, required: bool) -> str | None:
    category_id = _ref(raw, "category_id", required=required)
    if category_id is None:
        return None
    category = db.session.get(Category, category_id)
    if category is None:
        raise Refused("unknown_category", "unknown category", "未知的事项分类", field="category_id")
    return category.code


def _photos(raw: Raw) -> list[str]:
    photos = _json_list(raw, "photos")
    if len(photos) > MAX_PHOTOS or not all(isinstance(p, str) for p in photos):
        raise Refused(
            "sync_bad_value",
            "photos: SHA-256 strings",
            "字段 photos 应为 SHA-256 字符串",
            field="photos",
        )
    return [str(p) for p in photos]


def _read_only_changes(raw: Raw, changed: frozenset[str], writable: set[str]) -> None:
    """Refuse changes to the server's columns — after the writable ones were applied,
    which stay (`keep_applied`): a collector's note is not lost with a refused edit."""
    blocked = sorted(changed - writable - {"_status", "_changed"})
    if blocked:
        raise Refused(
            "sync_column_read_only",
            f"{blocked[0]} is set by the server and cannot be changed on a phone",
            f"字段 {blocked[0]} 由服务器维护，手机端不能修改",
            field=blocked[0],
            keep_applied=True,
        )


# --- patrols ---------------------------------------------------------------------------


def _track(raw: Raw) -> patrol_service.TrackInput:
    points = _json_list(raw, "track")
    if len(points) > MAX_TRACK_POINTS:
        raise Refused(
            "sync_too_long",
            f"track: at most {MAX_TRACK_POINTS} points",
            f"字段 track 最多 {MAX_TRACK_POINTS} 个点",
            field="track",
        )
    converted: list[list[Any]] = []
    for point in points:
        if not isinstance(point, list) or len(point) < 3:
            raise Refused(
                "sync_bad_value",
                "track: [lon, lat, unix_ms, accuracy?] points",
                "字段 track 应为 [经度, 纬度, 毫秒时间, 精度] 的数组",
                field="track",
            )
        lon, lat, t = point[0], point[1], point[2]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat, t)):
            raise Refused(
                "sync_bad_value", "track: numbers expected", "字段 track 应为数字", field="track"
            )
        converted.append([lon, lat, t / 1000, point[3] if len(point) > 3 else None])
    return patrol_service.TrackInput(points=converted, crs=_crs(raw))


def apply_patrol(
    session: Session, device: DeviceContext, op: Operation, raw: Raw, changed: frozenset[str]
) -> bool:
    principal = _principal(device)
    if op == "deleted":
        raise no_delete("patrols")
    uow = _uow(session)
    try:
        patrol = session.get(Patrol, raw["id"])
        track = _track(raw)
        if patrol is None:
            grid_id = _ref(raw, "grid_id")
            assert grid_id is not None
            patrol, _ = patrol_service.start_patrol(
                uow,
                principal,
                grid_id=grid_id,
                patrol_id=raw["id"],
                started_at=from_millis(raw.get("started_at"), "started_at"),
            )
        elif patrol.collector_id != principal.user_id:
            raise Refused("id_taken", "a patrol with this id exists", "该编号的巡逻已存在", "id")
        ended = raw.get("status") == "ended"
        if ended and patrol.status == "active":
            ended_at = raw.get("ended_at")
            patrol_service.end_patrol(
                uow,
                principal,
                patrol.id,
                ended_at=from_millis(ended_at, "ended_at") if ended_at is not None else None,
                track=track,
            )
        elif patrol.status == "active" and track.points:
            patrol_service.add_points(uow, principal, patrol.id, track)
    except DomainError as error:
        raise refused_from(error) from error
    return True  # the server computes distance, coverage and flags


def apply_new_patrols(
    session: Session, device: DeviceContext, raws: list[Raw]
) -> list[tuple[int | None, bool] | Refused]:
    """New patrols of a push, set-wise: each is checked as `apply_patrol` checks a new one
    (the same use-case steps in the same order: its track, grid and start; `start_patrol`'s
    checks; then its end or its points), nothing is written until all are checked, and the
    accepted ones go in with one flush (`patrols.add_patrols`). A refused patrol was never
    written, so it needs no savepoint. Each answer is the refusal, or the patrol's grid and
    True (the server computes distance, coverage and flags)."""
    principal = _principal(device)
    uow = _uow(session)
    answers: list[tuple[int | None, bool] | Refused] = [(None, True)] * len(raws)
    wanted = [raw.get("grid_id") for raw in raws]  # any shape: a record may be odd
    grids = patrol_service.patrol_grids(
        uow, {int(g) for g in wanted if isinstance(g, str) and g.isdigit() and len(g) <= 9}
    )
    accepted: list[Patrol] = []
    for i, raw in enumerate(raws):
        try:
            patrol = _new_patrol(uow, principal, raw)
        except Refused as refused:
            answers[i] = refused
            continue
        except (TypeError, ValueError, AttributeError, KeyError, IndexError):
            answers[i] = _wrong_type("patrols")
            continue
        accepted.append(patrol)
        answers[i] = (patrol.grid_id, True)
    patrol_service.add_patrols(uow, accepted)
    del grids  # held so far: the session keeps only referenced records
    return answers


def _new_patrol(uow: UnitOfWork, principal: Principal, raw: Raw) -> Patrol:
    """A new patrol checked as `apply_patrol` checks it, not yet written."""
    try:
        track = _track(raw)
        grid_id = _ref(raw, "grid_id")
        assert grid_id is not None
        patrol = patrol_service.new_patrol(
            uow,
            principal,
            grid_id=grid_id,
            patrol_id=raw["id"],
            started_at=from_millis(raw.get("started_at"), "started_at"),
        )
        if raw.get("status") == "ended":
            ended_at = raw.get("ended_at")
            patrol_service.end_new_patrol(
                uow,
                patrol,
                ended_at=from_millis(ended_at, "ended_at") if ended_at is not None else None,
                track=track,
            )
        elif track.points:
            patrol_service.add_new_points(patrol, track)
    except DomainError as error:
        raise refused_from(error) from error
    return patrol


# --- patrol logs -----------------------------------------------------------------------


def apply_log(
    session: Session, device: DeviceContext, op: Operation, raw: Raw, changed: frozenset[str]
) -> bool:
    principal = _principal(device)
    if op == "deleted":
        raise no_delete("patrol_logs")
    uow = _uow(session)
    existing = session.get(PatrolLog, raw["id"])
    if existing is not None:
        if existing.collector_id != principal.user_id:
            raise Refused("id_taken", "a log with this id exists", "该编号的日志已存在", "id")
        # `created` for an existing id is an update too: a phone whose push answer was lost
        # still holds the record as created, maybe edited since.
        text = _text(raw, "text")
        assert text is not None
        photos = _photos(raw)
        if op == "created" or not changed or bool(changed & {"text", "photos"}):
            try:
                patrol_service.edit_log(uow, principal, existing.id, text=text, photos=photos)
            except DomainError as error:
                raise refused_from(error) from error
        if op == "updated":
            _read_only_changes(raw, changed, {"text", "photos"})
        return False
    data = _log_input(raw)
    try:
        patrol_service.create_log(uow, principal, data)
    except DomainError as error:
        raise refused_from(error) from error
    return _crs(raw) != "wgs84"  # the phone gets WGS84 coordinates back


def apply_log_edits(
    session: Session, device: DeviceContext, edits: list[Edit]
) -> list[bool | Refused]:
    """Changes to existing logs of a push, set-wise through `patrols.edit_logs`, with the
    answers `apply_log` gives one by one: another collector's id is taken; the text and
    photos are read, then edited when the change names them (a `created` for an existing id
    is an edit too: a phone whose push answer was lost still holds the record as created);
    an update of the server's columns is refused after the edit, which stays."""
    principal = _principal(device)
    answers: list[bool | Refused] = [False] * len(edits)
    ids = sorted({raw["id"] for _, raw, _ in edits})
    found = session.execute(
        select(PatrolLog.id, PatrolLog.collector_id).where(among(session, PatrolLog.id, ids))
    )
    owners = {rid: owner for rid, owner in found}
    wanted: list[patrol_service.LogEdit] = []
    where: list[int] = []
    for i, (op, raw, changed) in enumerate(edits):
        try:
            if owners.get(raw["id"]) != principal.user_id:
                raise Refused("id_taken", "a log with this id exists", "该编号的日志已存在", "id")
            text = _text(raw, "text")
            assert text is not None
            photos = _photos(raw)
        except Refused as refused:
            answers[i] = refused
            continue
        except (TypeError, ValueError, AttributeError, KeyError, IndexError):
            answers[i] = _wrong_type("patrol_logs")
            continue
        if op == "created" or not changed or bool(changed & {"text", "photos"}):
            wanted.append(patrol_service.LogEdit(raw["id"], text, photos))
            where.append(i)
    if wanted:
        try:
            done = patrol_service.edit_logs(_uow(session), principal, wanted)
        except DomainError as error:  # the device may not edit logs at all
            done = [error] * len(wanted)
        for i, answer in zip(where, done, strict=True):
            if isinstance(answer, DomainError):
                answers[i] = refused_from(answer)
    for i, (op, raw, changed) in enumerate(edits):
        if op == "updated" and not isinstance(answers[i], Refused):
            try:
                _read_only_changes(raw, changed, {"text", "photos"})
            except Refused as refused:
                answers[i] = refused  # keep_applied: the edit stays
    return answers


def _wrong_type(table: str) -> Refused:
    return Refused(
        "sync_invalid_record",
        f"the {table} record has a value of the wrong type",
        f"{table} 记录中有类型不正确的值",
    )


def apply_new_logs(
    session: Session, device: DeviceContext, raws: list[Raw]
) -> list[tuple[int | None, bool] | Refused]:
    """New logs of a push, set-wise through `patrols.create_logs`: each answer is the
    refusal, or the stored log's grid (its scope) and whether the server stored it
    otherwise than sent (converted coordinates, tidied text, a time from the future)."""
    principal = _principal(device)
    answers: list[tuple[int | None, bool] | Refused] = [(None, False)] * len(raws)
    inputs: list[patrol_service.LogInput] = []
    where: list[int] = []
    for i, raw in enumerate(raws):
        try:
            inputs.append(_log_input(raw))
            where.append(i)
        except Refused as refused:
            answers[i] = refused
        except (TypeError, ValueError, AttributeError, KeyError, IndexError):
            answers[i] = _wrong_type("patrol_logs")
    if inputs:
        try:
            created = patrol_service.create_logs(_uow(session), principal, inputs)
        except DomainError as error:  # the device may not log at all
            created = [error] * len(inputs)
        for i, stored in zip(where, created, strict=True):
            if isinstance(stored, DomainError):
                answers[i] = refused_from(stored)
            else:
                answers[i] = (stored.grid_id, _stored_otherwise(raws[i], stored))
    return answers


def _stored_otherwise(raw: Raw, stored: Any) -> bool:
    """Whether the stored log differs from the raw the phone holds (no echo only for exact
    copies, as the engine judges records applied one by one)."""
    now = log_as_raw(stored.row)
    return any(k in now and now[k] != v for k, v in raw.items() if k not in LOCAL_COLUMNS)


def _log_input(raw: Raw) -> patrol_service.LogInput:
    text = _text(raw, "text")
    assert text is not None
    return patrol_service.LogInput(
        text=text,
        lon=_number(raw, "lon"),
        lat=_number(raw, "lat"),
        crs=_crs(raw),
        category=_category_code(raw, required=False),
        photos=_photos(raw),
        patrol_id=_text(raw, "patrol_id", required=False, max_len=64),
        id=raw["id"],
        logged_at=from_millis(raw.get("logged_at"), "logged_at"),
    )


# --- cases -------------------------------------------------------------------------------


def case_not_deleted() -> Refused:
    return Refused(
        "sync_delete_refused",
        "cases are never deleted: they are closed, rejected or merged by a dispatcher",
        "事项不能删除，只能由调度员结案、退回或合并",
        field="id",
    )


def apply_case(
    session: Session, device: DeviceContext, op: Operation, raw: Raw, changed: frozenset[str]
) -> bool:
    principal = _principal(device)
    if op == "deleted":
        raise case_not_deleted()
    uow = _uow(session)
    existing = session.get(Case, raw["id"])
    if existing is not None:
        note = _text(raw, "collector_note", required=False)
        try:
            case_service.visible_case(principal, existing.id)
            if op == "created" or not changed or "collector_note" in changed:
                case_service.set_collector_note(uow, principal, existing.id, note)
        except DomainError as error:
            raise refused_from(error) from error
        if op == "updated":
            _read_only_changes(raw, changed, {"collector_note"})
        return False
    data, note = _report_input(raw)
    try:
        result = case_service.report_case(uow, principal, data)
        if note:
            case_service.set_collector_note(uow, principal, result.case.id, note)
    except DomainError as error:
        raise refused_from(error) from error
    return True  # number, status, deadline and grid come from the server


def _report_input(raw: Raw) -> tuple[case_service.ReportInput, str | None]:
    """A new case's report and the collector's note, as the phone sent them."""
    description = _text(raw, "description")
    category = _category_code(raw, required=True)
    assert description is not None and category is not None
    data = case_service.ReportInput(
        category=category,
        description=description,
        lon=_number(raw, "lon"),
        lat=_number(raw, "lat"),
        crs=_crs(raw),
        priority=_text(raw, "priority", required=False, max_len=8),
        photos=_photos(raw),
        address=_text(raw, "address", required=False, max_len=200),
        id=raw["id"],
        reported_at=from_millis(raw.get("reported_at"), "reported_at"),
    )
    return data, _text(raw, "collector_note", required=False)


def apply_new_cases(
    session: Session, device: DeviceContext, raws: list[Raw]
) -> list[tuple[int | None, bool] | Refused]:
    """New cases of a push through `cases.report_offline_many` (each report checked by
    `report_case` before anything of it is written, applied in the order sent: numbers,
    events, inbox entries and webhooks as one by one, without a savepoint each), with the
    answers `apply_case` gives: the refusal, or the case's grid and True (number, status,
    deadline and grid come from the server)."""
    principal = _principal(device)
    answers: list[tuple[int | None, bool] | Refused] = [(None, True)] * len(raws)
    inputs: list[tuple[case_service.ReportInput, str | None]] = []
    where: list[int] = []
    for i, raw in enumerate(raws):
        try:
            inputs.append(_report_input(raw))
            where.append(i)
        except Refused as refused:
            answers[i] = refused
        except (TypeError, ValueError, AttributeError, KeyError, IndexError):
            answers[i] = _wrong_type("cases")
    if inputs:
        done = case_service.report_offline_many(_uow(session), principal, inputs)
        for i, answer in zip(where, done, strict=True):
            if isinstance(answer, DomainError):
                answers[i] = refused_from(answer)
            else:
                answers[i] = (answer.grid_id, True)
    return answers


# --- case actions --------------------------------------------------------------------------


def apply_case_action(
    session: Session, device: DeviceContext, op: Operation, raw: Raw, changed: frozenset[str]
) -> bool:
    principal = _principal(device)
    data = _action_input(raw)
    try:
        return case_service.act_offline(_uow(session), principal, data)
    except DomainError as error:
        raise refused_from(error) from error


def _action_input(raw: Raw) -> case_service.OfflineActionInput:
    action = _text(raw, "action", max_len=32)
    case_id = _text(raw, "case_id", max_len=64)
    assert action is not None and case_id is not None
    return case_service.OfflineActionInput(
        id=raw["id"],
        case_id=case_id,
        action=action,
        note=_text(raw, "note", required=False),
        photos=_photos(raw),
        acted_at=from_millis(raw.get("acted_at"), "acted_at"),
    )


def apply_new_case_actions(
    session: Session, device: DeviceContext, raws: list[Raw]
) -> list[tuple[int | None, bool] | Refused]:
    """New case actions of a push, set-wise through `cases.act_offline_many` (the cases
    read and locked at once, each action checked before anything of it is written, the
    records in one flush), with the answers `apply_case_action` gives one by one: the
    refusal, or the action's grid and True (the server fills `outcome`)."""
    principal = _principal(device)
    answers: list[tuple[int | None, bool] | Refused] = [(None, True)] * len(raws)
    inputs: list[case_service.OfflineActionInput] = []
    where: list[int] = []
    for i, raw in enumerate(raws):
        try:
            inputs.append(_action_input(raw))
            where.append(i)
        except Refused as refused:
            answers[i] = refused
        except (TypeError, ValueError, AttributeError, KeyError, IndexError):
            answers[i] = _wrong_type("case_actions")
    if inputs:
        done = case_service.act_offline_many(_uow(session), principal, inputs)
        for i, answer in zip(where, done, strict=True):
            if isinstance(answer, DomainError):
                answers[i] = refused_from(answer)
            else:
                answers[i] = (answer.grid_id, True)
    return answers


__all__ = [
    "apply_case",
    "apply_case_action",
    "apply_log",
    "apply_log_edits",
    "apply_new_case_actions",
    "apply_new_logs",
    "apply_new_patrols",
    "apply_patrol",
    "case_not_deleted",
    "json",
    "no_delete",
]
