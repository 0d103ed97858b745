"""One error format for the whole API: `{code, message, message_zh, field?, details?}`."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, jsonify
from marshmallow import Schema, fields
from sqlalchemy.exc import DataError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from server import metrics
from server.errors import DomainError

log = logging.getLogger(__name__)


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True)
    message_zh = fields.String(required=True)
    field = fields.String(metadata={"description": "the request field at fault"})
    details = fields.Raw(metadata={"description": "all field errors, when several"})


HTTP_CODES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "The request is malformed", "请求格式错误"),
    401: ("unauthorized", "Authentication required", "需要登录或有效令牌"),
    403: ("forbidden", "You may not do this", "无权执行此操作"),
    404: ("not_found", "Not found", "资源不存在"),
    405: ("method_not_allowed", "Method not allowed", "不支持该请求方法"),
    406: ("not_acceptable", "Not acceptable", "无法提供所请求的格式"),
    409: ("conflict", "The resource changed meanwhile", "资源已被他人修改"),
    413: ("payload_too_large", "The request body is too large", "请求内容过大"),
    415: ("unsupported_media_type", "Unsupported media type", "不支持的内容类型"),
    422: ("validation_error", "The input is invalid", "输入无效"),
    429: ("too_many_requests", "Too many requests, try later", "请求过于频繁，请稍后再试"),
}

# marshmallow/webargs English messages → Chinese. Unknown ones fall back to a generic text.
_ZH_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Missing data for required field\.$"), "缺少必填字段"),
    (re.compile(r"^Field may not be null\.$"), "字段不能为空值"),
    (re.compile(r"^Unknown field\.$"), "未知字段"),
    (re.compile(r"^Not a valid number\.$"), "不是有效的数字"),
    (re.compile(r"^Not a valid integer\.$"), "不是有效的整数"),
    (re.compile(r"^Not a valid string\.$"), "不是有效的字符串"),
    (re.compile(r"^Not a valid boolean\.$"), "不是有效的布尔值"),
    (re.compile(r"^Not a valid datetime\.$"), "不是有效的日期时间"),
    (re.compile(r"^Not a valid date\.$"), "不是有效的日期"),
    (re.compile(r"^Not a valid list\.$"), "不是有效的列表"),
    (re.compile(r"^Not a valid mapping type\.$"), "不是有效的对象"),
    (re.compile(r"^Invalid input type\.$"), "输入类型无效"),
    (
        re.compile(r"^Special numeric values \(nan or infinity\) are not permitted\.$"),
        "不允许 NaN 或无穷大",
    ),
    (re.compile(r"^Must be one of: (.*)\.$"), r"必须是以下之一：\1"),
    (
        re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$"),
        r"必须在 \1 到 \2 之间",
    ),
    (re.compile(r"^Must be greater than or equal to (\S+)\.$"), r"必须大于或等于 \1"),
    (re.compile(r"^Must be less than or equal to (\S+)\.$"), r"必须小于或等于 \1"),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"), r"长度必须在 \1 到 \2 之间"),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), r"长度不能少于 \1"),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), r"长度不能超过 \1"),
    (re.compile(r"^String does not match expected pattern\.$"), "格式不符合要求"),
    (re.compile(r"^Invalid JSON body\.$"), "JSON 格式无效"),
    (re.compile(r"^NUL characters are not allowed\.$"), "不允许包含 NUL 字符"),
]


def translate(message: str) -> str:
    for pattern, zh in _ZH_PATTERNS:
        if pattern.match(message):
            return pattern.sub(zh, message)
    return "输入无效"


def _first_error(messages: Any, path: tuple[str, ...] = ()) -> tuple[tuple[str, ...], str]:
    """Depth-first: the first field path and message in webargs' nested error dict."""
    if isinstance(messages, dict):
        for key in sorted(messages, key=str):
            return _first_error(messages[key], (*path, str(key)))
    if isinstance(messages, list) and messages:
        if all(isinstance(m, str) for m in messages):
            return path, messages[0]
        return _first_error(messages[0], path)
    return path, str(messages)


def validation_body(messages: Any) -> dict[str, Any]:
    """Build our error body from webargs' `{location: {field: [msg]}}` messages."""
    path, message = _first_error(messages)
    # drop the location ("json", "query", "files", …) and webargs' "_schema" pseudo-field
    field_parts = [p for p in path[1:] if p != "_schema"]
    field = ".".join(field_parts) or None
    body: dict[str, Any] = {
        "code": "validation_error",
        "message": f"{field}: {message}" if field else message,
        "message_zh": f"字段 {field}：{translate(message)}" if field else translate(message),
        "details": messages,
    }
    if field:
        body["field"] = field
    return body


def _json(body: dict[str, Any], status: int, headers: Any = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    if headers:
        response.headers.extend(headers)
    return response


def handle_domain_error(error: DomainError) -> Response:
    metrics.count_refusal(error.code)
    return _json(error.to_dict(), error.status, error.headers or None)


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    if status == 422 and "messages" in data:
        return _json(validation_body(data["messages"]), 422, data.get("headers"))
    if status == 400 and "messages" in data:  # e.g. undecodable JSON body
        body = validation_body(data["messages"])
        body["code"] = "bad_request"
        return _json(body, 400, data.get("headers"))
    code, message, message_zh = HTTP_CODES.get(status, ("http_error", error.name, "请求失败"))
    headers = error.get_headers() if status in (401, 405) else None
    extra = [(k, v) for k, v in (headers or []) if k.lower() != "content-type"]
    return _json({"code": code, "message": message, "message_zh": message_zh}, status, extra)


def handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error", exc_info=error)
    return _json(
        {
            "code": "internal_error",
            "message": "Internal error; it has been logged",
            "message_zh": "服务器内部错误，已记录",
        },
        500,
    )


def handle_data_error(error: DataError) -> Response:
    """A value the database refuses that the edge let through: a 422, logged as a gap."""
    log.warning("database refused a value the API accepted: %s", error.orig)
    return _json(
        {
            "code": "invalid_value",
            "message": "A value is out of range or malformed",
            "message_zh": "输入值超出范围或格式错误",
        },
        422,
    )


def handle_stale(error: StaleDataError) -> Response:
    """Two writers raced on one row and this one lost (optimistic locking)."""
    log.info("stale write refused: %s", error)
    return _json(
        {
            "code": "stale_version",
            "message": "The record changed meanwhile; reload and retry",
            "message_zh": "记录已被他人修改，请刷新后重试",
        },
        409,
    )


def register_error_handlers(app: Flask) -> None:
    """Registered after flask-smorest's own, so ours win. Under tests, unexpected errors
    propagate, so that schemathesis and the suite see every gap in validation."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(StaleDataError, handle_stale)
    if not app.testing:
        app.register_error_handler(DataError, handle_data_error)
        app.register_error_handler(Exception, handle_unexpected)
