"""What the print stylesheet needs besides the page: the QR code on a case's 交办单."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import send_file, url_for

from server.services.caseloop import cases
from server.web.console import bp
from server.web.session import page, signed_in


@bp.get("/cases/<case_id>/qr.png", endpoint="case_qr")
@page()
def case_qr(case_id: str) -> Any:
    """A QR code of the case page's address, for whoever may see the case."""
    import qrcode

    case = cases.visible_case(signed_in(), case_id[:64])
    image = qrcode.make(
        url_for("console.case_page", case_id=case.id, _external=True), box_size=8, border=2
    )
    out = BytesIO()
    image.save(out)
    out.seek(0)
    response = send_file(out, mimetype="image/png", max_age=0)
    response.cache_control.private = True
    return response
