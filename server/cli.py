"""The `minqing` command: Flask's CLI plus grids, demo, users and devices."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from server.errors import DomainError
from server.services.uow import unit_of_work


def _fail(error: DomainError) -> None:
    click.secho(f"✗ {error.message_zh}\n  {error.message}", fg="red", err=True)
    sys.exit(1)


# ---------------------------------------------------------------- grids
grids = AppGroup("grids", help="Communities and grids 社区与网格.")


@grids.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="import the valid features, report the rest")
def grids_import(path: Path, skip_invalid: bool) -> None:
    """Import communities and grids from a GeoJSON FeatureCollection."""
    from server.services.territory.grids_import import ImportRejected, import_geojson

    text = path.read_text(encoding="utf-8")
    try:
        n = len(json.loads(text).get("features", []))
    except (ValueError, AttributeError):
        n = 0
    try:
        with (
            click.progressbar(length=max(n, 1), label="importing 导入中") as bar,
            unit_of_work() as uow,
        ):
            report = import_geojson(uow, text, skip_invalid=skip_invalid, progress=bar.update)
    except ImportRejected as exc:
        _print_problems(exc.report.problems)
        click.secho(f"✗ {exc.message_zh} / {exc.message}", fg="red", err=True)
        sys.exit(1)
    _print_problems(report.problems)
    for label, counts in (
        ("created 新建", report.created),
        ("updated 更新", report.updated),
        ("unchanged 未变", report.unchanged),
    ):
        if counts:
            click.echo(f"{label}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if report.skipped:
        click.secho(f"skipped 跳过: {report.skipped} invalid feature(s)", fg="yellow")


def _print_problems(problems: list) -> None:  # type: ignore[type-arg]
    for p in problems:
        where = f" at {p.location[0]},{p.location[1]}" if p.location else ""
        idx = f"#{p.index} " if p.index is not None else ""
        click.secho(
            f"  {idx}{p.label}: [{p.code}] {p.message_zh} / {p.message}{where}",
            fg="yellow",
            err=True,
        )


# ---------------------------------------------------------------- demo
demo = AppGroup("demo", help="Demo data 演示数据.")


@demo.command("seed")
@click.option(
    "--history-days",
    default=60,
    show_default=True,
    help="days of generated history (patrols, logs, cases, index); 0 for none",
)
def demo_seed(history_days: int) -> None:
    """Seed the demo sub-district with its history (idempotent); print the demo logins."""
    from server.demo.history import seed_history
    from server.demo.seed import SUBDISTRICT_NAME, seed_demo

    password = current_app.config["DEMO_PASSWORD"]
    with unit_of_work() as uow:
        report = seed_demo(uow, password)
    with unit_of_work() as uow:
        history = seed_history(uow, days=history_days) if history_days > 0 else None
    if report.created:
        click.echo("created 新建: " + ", ".join(f"{k} {v}" for k, v in report.created.items()))
    if history is not None and not history.skipped:
        click.echo(
            f"history 历史 ({history.days} days): {history.patrols} patrols, "
            f"{history.logs} logs, {history.cases} cases, {history.events} events, "
            f"{history.ratings} ratings, index for {history.index_days} days"
        )
    if not report.created and (history is None or history.skipped):
        click.echo("demo data already present 演示数据已存在 — nothing changed")
    roles = {}
    for username, role in report.logins:
        roles.setdefault(role, []).append(username)
    click.echo(f"\n{SUBDISTRICT_NAME} demo logins 演示账号 (password 密码: {password}):")
    for role, names in roles.items():
        shown = names if len(names) <= 3 else [names[0], "…", names[-1]]
        click.echo(f"  {role:<11} {' '.join(shown)}")


# ---------------------------------------------------------------- users
users = AppGroup("users", help="Accounts 用户.")


@users.command("create")
@click.option("--username", required=True)
@click.option(
    "--role", required=True, type=click.Choice(["admin", "dispatcher", "unit_staff", "collector"])
)
@click.option("--name", "display_name", required=True, help="display name 姓名")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--phone")
@click.option("--subdistrict", "subdistrict_code", help="9-digit subdistrict code")
@click.option("--unit", "unit_code", help="unit code (unit staff)")
@click.option("--grids", "grid_codes", help="comma-separated grid codes (collectors)")
def users_create(
    username: str,
    role: str,
    display_name: str,
    password: str,
    phone: str | None,
    subdistrict_code: str | None,
    unit_code: str | None,
    grid_codes: str | None,
) -> None:
    """Create a user (and a collector's grid assignments)."""
    from server.services.people.users import create_user

    try:
        with unit_of_work() as uow:
            user = create_user(
                uow,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                phone=phone,
                subdistrict_code=subdistrict_code,
                unit_code=unit_code,
                grid_codes=[c.strip() for c in (grid_codes or "").split(",") if c.strip()],
            )
    except DomainError as exc:
        _fail(exc)
    click.echo(f"created user {user.username} ({role})")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable an account and end all its sessions and tokens at once 停用账号."""
    from sqlalchemy import select

    from server.domain.roles import Role
    from server.extensions import db
    from server.models import User
    from server.services.people.principal import Principal
    from server.services.people.users import disable_user
    from server.services.uow import unit_of_work

    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        _fail(DomainError("not_found", f"no user {username!r}", f"用户 {username} 不存在"))
        return
    operator = Principal(  # the command line acts as a city-level admin
        user_id=0,
        username="cli",
        role=Role.ADMIN,
        subdistrict_id=None,
        unit_id=None,
        grid_ids=frozenset(),
    )
    try:
        with unit_of_work() as uow:
            ended = disable_user(uow, operator, user.id)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"disabled {username}; {ended} sessions ended 已停用，结束 {ended} 个会话")


@users.command("assign")
@click.argument("username")
@click.argument("grid_codes", nargs=-1, required=True)
@click.option("--replace", is_flag=True, help="replace the collector's current grids")
def users_assign(username: str, grid_codes: tuple[str, ...], replace: bool) -> None:
    """Assign grids to a collector."""
    from server.services.people.users import assign_grids

    try:
        with unit_of_work() as uow:
            codes = assign_grids(uow, username, grid_codes, replace=replace)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"{username}: {', '.join(codes)}")


# ---------------------------------------------------------------- devices
devices = AppGroup("devices", help="Collectors' phones 设备.")


@devices.command("issue")
@click.option("--collector", required=True, help="collector username")
@click.option("--name", help="device name, e.g. 王伟的手机")
@click.option("--json", "as_json", is_flag=True, help='print {"device_id": …, "token": …}')
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write the provisioning QR code as a PNG",
)
def devices_issue(collector: str, name: str | None, as_json: bool, png: Path | None) -> None:
    """Issue a device token (shown once) with a QR code that pairs the field app (/app/)."""
    import qrcode

    from server.services.people.devices import issue_device

    try:
        with unit_of_work() as uow:
            issued = issue_device(uow, collector, name)
    except DomainError as exc:
        _fail(exc)
    payload = issued.provisioning_payload()
    if png:
        qrcode.make(payload).save(str(png))
    if as_json:
        click.echo(
            json.dumps({"device_id": issued.device.id, "token": issued.token, "pair_url": payload})
        )
        return
    qr = qrcode.QRCode(border=1)
    qr.add_data(payload)
    buffer = io.StringIO()
    qr.print_ascii(out=buffer, invert=True)
    click.echo(buffer.getvalue())
    click.echo(f"device 设备: {issued.device.id} ({issued.device.name})")
    click.echo(f"token 令牌 (shown once 仅显示一次): {issued.token}")
    click.echo(f"pair URL 配对链接 (the QR code; open on the phone): {payload}")
    if png:
        click.echo(f"QR code written to {png}")


@devices.command("revoke")
@click.argument("device_id")
def devices_revoke(device_id: str) -> None:
    """Revoke a device: its token stops working at once."""
    from server.services.people.devices import revoke_device

    try:
        with unit_of_work() as uow:
            device = revoke_device(uow, device_id)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"revoked 已停用 {device.id} at {device.revoked_at:%Y-%m-%d %H:%M:%S} UTC")


@devices.command("list")
@click.option("--collector", help="only this collector's devices")
def devices_list(collector: str | None) -> None:
    """List devices with their state and last contact."""
    from server.services.people.devices import list_devices

    for d in list_devices(collector):
        state = "revoked" if d.revoked_at else "active"
        seen = f"{d.last_seen_at:%Y-%m-%d %H:%M}" if d.last_seen_at else "never"
        click.echo(
            f"{d.id}  {d.collector.username:<12} {state:<8} …{d.token_hint}  "
            f"last seen {seen}  {d.name}"
        )


# ---------------------------------------------------------------- index
index_group = AppGroup("index", help="The sentiment index 民情指数.")


@index_group.command("compute")
@click.option(
    "--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="local day (default: yesterday)"
)
def index_compute(day: object) -> None:
    """Compute one day's index and bulletins (recomputing gives the same result)."""
    from datetime import datetime

    from server.services.patrolling import index

    target = day.date() if isinstance(day, datetime) else index.yesterday()
    try:
        with unit_of_work() as uow:
            result = index.compute_day(uow, target)
    except DomainError as exc:
        _fail(exc)
    click.echo(
        f"{result.day}: {result.grids} grids, {result.communities} communities, "
        f"{result.bulletins} bulletins"
    )


@index_group.command("backfill")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), required=True)
def index_backfill(first: object, last: object) -> None:
    """Compute every day of a range, in order, with a progress bar."""
    from datetime import datetime

    from server.services.patrolling import index

    assert isinstance(first, datetime) and isinstance(last, datetime)
    days = (last.date() - first.date()).days + 1
    try:
        with (
            click.progressbar(length=max(days, 1), label="computing 计算中") as bar,
            unit_of_work() as uow,
        ):
            n = index.backfill(uow, first.date(), last.date(), progress=bar.update)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"computed {n} days 已计算 {n} 天")


# ---------------------------------------------------------------- audit
audit_group = AppGroup("audit", help="Tamper-evident case and topic history 记录防篡改.")


@audit_group.command("seal")
def audit_seal() -> None:
    """Publish the root of every finished UTC day not sealed yet."""
    from server.services.upkeep import audit

    with unit_of_work() as uow:
        sealed = [(row.day, row.root, row.events) for row in audit.seal_days(uow)]
    for day, root, events in sealed:
        click.echo(f"{day}  {root}  ({events} events)")
    click.echo(f"sealed {len(sealed)} days 已封存 {len(sealed)} 天")


@audit_group.command("verify")
def audit_verify() -> None:
    """Check every case's and topic's hash chain and every published root; exit 1 at the
    first break."""
    from server.services.upkeep import audit

    with unit_of_work() as uow:
        events, days, finding = audit.verify(uow)
    if finding is None:
        click.echo(f"ok: {events} events in their chains, {days} daily roots 校验通过")
        return
    if finding.day is not None:
        where = f"daily root of {finding.day}"
    elif finding.topic_id is not None:
        where = (
            f"topic {finding.topic_id} 议题「{finding.topic_title or ''}」, "
            f"event seq {finding.seq} (topic event id {finding.event_id})"
        )
    else:
        where = (
            f"case {finding.case_number or finding.case_id} (id {finding.case_id}), "
            f"event seq {finding.seq} (event id {finding.event_id})"
        )
    click.secho(f"✗ broken at {where}: {finding.what}\n  记录已被篡改或缺失", fg="red", err=True)
    sys.exit(1)


# ---------------------------------------------------------------- retention
retention_group = AppGroup(
    "retention", help="Keeping personal data no longer than needed 数据保留."
)


@retention_group.command("apply")
def retention_apply() -> None:
    """Remove residents' names and phones from long-ended cases, photos of people whose cases
    ended long ago, old sync logs, old sessions."""
    from server.services.upkeep import retention

    with unit_of_work() as uow:
        report = retention.apply(uow)
    for name, count in vars(report).items():
        click.echo(f"{name:<22} {count}")


# ---------------------------------------------------------------- holidays
holidays_group = AppGroup("holidays", help="The holiday calendar 节假日安排.")


@holidays_group.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def holidays_load(path: Path) -> None:
    """Load one or more years from a JSON file shaped like server/data/holidays_cn.json."""
    from server.services.territory import holidays

    try:
        with unit_of_work() as uow:
            years = holidays.load_file(uow, path.read_text(encoding="utf-8"))
    except DomainError as exc:
        for fault in exc.details or []:  # one fault a line, in both languages
            click.secho(f"✗ {fault['message_zh']}\n  {fault['message']}", fg="red", err=True)
        if not exc.details:
            _fail(exc)
        click.secho("未导入任何年份 / nothing loaded", fg="red", err=True)
        sys.exit(1)
    click.echo(f"loaded {', '.join(map(str, years))} 已导入")
    _holiday_warnings()


@holidays_group.command("status")
def holidays_status() -> None:
    """Which years the calendar covers, from which notice; warnings."""
    from server.services.caseloop.case_deadlines import calendar

    cal = calendar()
    for year in sorted(cal.years):
        click.echo(f"{year}  {cal.source(year)}")
    _holiday_warnings()


def _holiday_warnings() -> None:
    from datetime import datetime

    from server.services.caseloop.case_deadlines import calendar, local_zone
    from server.services.territory import holidays

    for warning in holidays.warnings(calendar(), datetime.now(local_zone()).date()):
        click.secho(f"⚠ {warning['message_zh']}\n  {warning['message']}", fg="yellow", err=True)


# ---------------------------------------------------------------- backups
@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Back up the database and the photos into one archive (tar.gz) 备份."""
    from server.services.upkeep import backups

    try:
        manifest = backups.create(path)
    except DomainError as exc:
        _fail(exc)
        return
    counts = ", ".join(f"{k} {v}" for k, v in manifest.counts.items())
    click.echo(f"backed up {manifest.backend} ({counts}; {manifest.photos} photo files) to {path}")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(path: Path) -> None:
    """Restore a backup into an empty database and media folder 恢复."""
    from server.services.upkeep import backups

    try:
        manifest = backups.restore(path)
    except DomainError as exc:
        _fail(exc)
        return
    click.echo(
        f"restored {manifest.backend} backup of {manifest.created_at} "
        f"(revision {manifest.revision}); run `minqing db upgrade` if this release is newer"
    )


# ---------------------------------------------------------------- cases (12345 work orders)
cases_group = AppGroup("cases", help="Cases: 12345 work orders 12345 工单导入与回复单.")


def _operator(username: str) -> object:
    """The principal a command acts as: an active admin or dispatcher named by --user."""
    from sqlalchemy import select

    from server.extensions import db
    from server.models import User
    from server.services.people.auth import principal_for

    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or not user.active:
        _fail(
            DomainError(
                "not_found", f"no active user {username!r}", f"用户 {username} 不存在或已停用"
            )
        )
    assert user is not None
    return principal_for(user)


@cases_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "username", required=True, help="the admin or dispatcher importing")
@click.option("--skip-invalid", is_flag=True, help="import the valid rows, report the rest")
@click.option("--dry-run", is_flag=True, help="check and report only; write nothing")
@click.option(
    "--crs",
    type=click.Choice(["wgs84", "gcj02", "bd09"]),
    default="wgs84",
    show_default=True,
    help="the coordinates' system in the sheet",
)
def cases_import(path: Path, username: str, skip_invalid: bool, dry_run: bool, crs: str) -> None:
    """Import 12345 hotline work orders (工单) from an .xlsx or .csv file as cases."""
    from server.services.interop.hotline import ImportRejected, import_orders

    principal = _operator(username)
    data = path.read_bytes()
    try:
        with (
            click.progressbar(length=1, label="importing 导入中") as bar,
            unit_of_work() as uow,
        ):

            def step(n: int) -> None:
                bar.length = max(bar.length or 1, bar.pos + n + 1)
                bar.update(n)

            report = import_orders(
                uow,
                principal,  # type: ignore[arg-type]
                path.name,
                data,
                skip_invalid=skip_invalid,
                dry_run=dry_run,
                crs=crs,
                progress=step,
            )
    except ImportRejected as exc:
        _print_rows(exc.report.problems)
        click.secho(f"✗ {exc.message_zh} / {exc.message}", fg="red", err=True)
        sys.exit(1)
    except DomainError as exc:
        _fail(exc)
    _print_rows(report.problems)
    click.echo(f"rows 行数: {report.rows}")
    if dry_run:
        click.echo(f"would create 将新建: {report.would_create} (dry run 试运行，未写入)")
        if report.would_unlocate:
            click.echo(f"  of which unlocated 其中待定位: {report.would_unlocate}")
    else:
        click.echo(f"created 新建: {len(report.created)}")
        unplaced = {i.row for i in report.unlocated}
        for item in report.created:
            flag = "  [待定位 unlocated]" if item.row in unplaced else ""
            click.echo(f"  row {item.row}: {item.order_no} → {item.case_number}{flag}")
        if report.unlocated:
            click.secho(
                f"unlocated 待定位: {len(report.unlocated)} — no coordinates and no geocoder "
                "answer: locate them in the console queue 无坐标且地址未能定位，请在工作台定位",
                fg="yellow",
            )
    if report.geocoded:
        click.echo(f"geocoded 地址定位: {report.geocoded}")
    if report.geocoder_failure:
        click.secho(
            f"geocoder failed 地理编码失败: {report.geocoder_failure}", fg="yellow", err=True
        )
    if report.unchanged:
        click.echo(
            f"unchanged 已导入过，未改动: {len(report.unchanged)}"
            + ("" if report.created else " — nothing changed 无变化")
        )
    if report.skipped:
        click.secho(f"skipped 跳过: {report.skipped} invalid row(s)", fg="yellow")


def _print_rows(problems: list) -> None:  # type: ignore[type-arg]
    for p in problems:
        click.secho(
            f"  row {p.row} [{p.column}] {p.code}: {p.message_zh} / {p.message}",
            fg="yellow",
            err=True,
        )


@cases_group.command("reply-sheet")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--user", "username", required=True, help="the admin or dispatcher exporting")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), help="imported on or after")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="imported on or before")
@click.option(
    "--finished", is_flag=True, help="only work orders verified, closed, rejected or merged"
)
def cases_reply_sheet(
    path: Path, username: str, first: object, last: object, finished: bool
) -> None:
    """Write the 12345 reply sheet (回复单): .xlsx or .csv by the file name."""
    from datetime import datetime, timedelta

    from server.services.caseloop.case_deadlines import local_zone
    from server.services.interop.hotline import ReplyFilter, export_replies

    principal = _operator(username)
    zone = local_zone()

    def moment(value: object, days: int = 0) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=zone) + timedelta(days=days)

    fmt = "csv" if path.suffix.lower() == ".csv" else "xlsx"
    f = ReplyFilter(moment(first), moment(last, 1), finished)
    try:
        with unit_of_work() as uow:
            export = export_replies(uow, principal, fmt, f)
        with path.open("wb") as out:
            for chunk in export.chunks:
                out.write(chunk)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"wrote 已写入 {path}")


categories_group = AppGroup("categories", help="The 12345 category table 12345 诉求类型对照表.")
cases_group.add_command(categories_group)


@categories_group.command("set")
@click.argument("text")
@click.argument("code")
def categories_set(text: str, code: str) -> None:
    """Map a 12345 category text (诉求类型) to one of our category codes."""
    from server.services.interop.hotline import set_category

    try:
        with unit_of_work() as uow:
            set_category(uow, _cli_admin(), text, code)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"{text} → {code}")


@categories_group.command("remove")
@click.argument("text")
def categories_remove(text: str) -> None:
    """Remove a 12345 category text from the table."""
    from server.services.interop.hotline import remove_category

    with unit_of_work() as uow:
        removed = remove_category(uow, _cli_admin(), text)
    click.echo("removed 已删除" if removed else "not in the table 不在对照表中")


@categories_group.command("list")
def categories_list() -> None:
    """The 12345 category table."""
    from server.services.interop.hotline import list_categories

    for text, code, name in list_categories():
        click.echo(f"{text}\t{code}\t{name}")


def _cli_admin() -> object:
    from server.domain.roles import Role
    from server.services.people.principal import Principal

    return Principal(  # the command line acts as a city-level admin
        user_id=0, username="cli", role=Role.ADMIN, subdistrict_id=None
    )


def register_commands(app: Flask) -> None:
    """Put our command groups on the app's CLI (so `flask` and `minqing` both have them)."""
    for group in (
        grids,
        demo,
        users,
        devices,
        index_group,
        audit_group,
        retention_group,
        holidays_group,
        cases_group,
    ):
        app.cli.add_command(group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
