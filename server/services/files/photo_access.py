"""Who may see a photo, and who may attach it to a case.

Photos are content-addressed, so a hash alone proves nothing: a photo is readable by its
uploader, by whoever may see a case it belongs to, and by the collectors of the grid of a
patrol log that holds it; it may be attached by its uploader, or
to a case it already belongs to. Anonymous reporters
cannot attach photos (they cannot upload).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import String, cast, select

from server.domain.roles import Role
from server.errors import DomainError, Invalid, NotFound
from server.extensions import db
from server.models import Attachment, Case, CaseAttachment, PatrolLog
from server.services.people.case_scope import may_see
from server.services.people.principal import Principal


def _in_a_readable_log(principal: Principal, sha256: str) -> bool:
    """Whether a patrol log in one of the collector's grids holds the photo (logs reach every
    phone of the grid, so their photos must too)."""
    if principal.role is not Role.COLLECTOR or not principal.grid_ids:
        return False
    needle = f'%"{sha256.lower()}"%'  # photos is a JSON list of hex hashes
    found = db.session.scalar(
        select(PatrolLog.id)
        .where(
            PatrolLog.grid_id.in_(sorted(principal.grid_ids)),
            cast(PatrolLog.photos, String).like(needle),
        )
        .limit(1)
    )
    return found is not None


def check_readable(principal: Principal, sha256: str) -> None:
    """404 unless the principal uploaded the photo, may see a case that holds it, or is a
    collector of the grid of a patrol log that holds it."""
    row = db.session.get(Attachment, sha256)
    if row is not None and row.uploaded_by_id == principal.user_id:
        return
    hexadecimal = all(c in "0123456789abcdef" for c in sha256.lower())
    if row is not None and hexadecimal and _in_a_readable_log(principal, sha256):
        return
    cases = db.session.scalars(
        select(Case)
        .join(CaseAttachment, CaseAttachment.case_id == Case.id)
        .where(CaseAttachment.sha256 == sha256)
    )
    if not any(may_see(principal, case) for case in cases):
        raise NotFound("Photo", "照片")


FLAGGERS = frozenset({Role.DISPATCHER, Role.ADMIN})


def check_flaggable(principal: Principal, sha256: str) -> None:
    """Who may say a photo shows people (`personal`): whoever may read it (404 otherwise, as
    when reading it) and is its uploader, a dispatcher or an admin (403 otherwise)."""
    check_readable(principal, sha256)
    row = db.session.get(Attachment, sha256)
    if row is None:
        raise NotFound("Photo", "照片", field="sha256")
    if row.uploaded_by_id != principal.user_id and principal.role not in FLAGGERS:
        raise DomainError(
            "forbidden",
            "personal: only the photo's uploader or a dispatcher may flag it",
            "字段 personal：只有照片上传者或调度员可以标记",
            field="personal",
            status=403,
        )


def may_flag(principal: Principal) -> bool:
    """Whether the principal flags any photo it may see (dispatchers and admins)."""
    return principal.role in FLAGGERS


def check_attachable(
    principal: Principal | None, shas: Sequence[str], case_id: str | None = None
) -> None:
    """422 `photo_not_yours` naming `photos` for a photo the principal may not attach."""
    if not shas:
        return
    refused = []
    for sha in dict.fromkeys(shas):
        row = db.session.get(Attachment, sha)
        if row is None:
            continue  # require_attachments reports unknown photos
        if principal is not None and row.uploaded_by_id == principal.user_id:
            continue
        links = set(
            db.session.scalars(select(CaseAttachment.case_id).where(CaseAttachment.sha256 == sha))
        )
        # Someone else's photo only where it already is: a hash seen elsewhere (a colleague's
        # patrol log synced to every phone of the grid) must not let anyone claim the photo.
        if principal is not None and case_id is not None and links == {case_id}:
            continue
        refused.append(sha)
    if refused:
        raise Invalid(
            "photo_not_yours",
            f"photos: {len(refused)} photo(s) were uploaded by someone else; attach only "
            "photos you took yourself",
            f"字段 photos：有 {len(refused)} 张照片是他人上传的，只能附上您自己拍摄的照片",
            field="photos",
            details={"refused": refused},
        )
