"""Telling residents by SMS: a channel interface, a "log only" default and Aliyun SMS
(阿里云短信服务, dysmsapi `SendSms`) over its documented HTTP RPC API, signed here.

Aliyun's RPC signature (V1, HMAC-SHA1), as its documentation gives it:
  1. the request's parameters (common + SendSms ones, without `Signature`) sorted by name;
  2. names and values percent-encoded per RFC 3986 (UTF-8; unreserved A-Z a-z 0-9 - _ . ~
     kept, space → %20, `*` → %2A, `~` kept) and joined as `name=value` with `&`;
  3. StringToSign = METHOD + "&" + encode("/") + "&" + encode(that query string);
  4. Signature = Base64(HMAC-SHA1(key = AccessKeySecret + "&", StringToSign)), sent as the
     `Signature` parameter (itself percent-encoded in the URL).
The answer is JSON `{"Code": "OK", "BizId": …, "RequestId": …}`; any other Code is a refusal.

Messages go out after the commit (a Celery task, `server.tasks.sms`); a message that cannot be
sent is logged and never undoes the case's action.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from server.domain.masking import mask_phone

log = logging.getLogger(__name__)

# What residents are told, and when (the event of the case loop that sends it).
KINDS = ("accepted", "handled", "awaiting_rating")
TEXT_ZH = {
    "accepted": "您反映的事项 {number} 已受理，进度请查看：{link}",
    "handled": "您反映的事项 {number} 已处理完毕，正在核查，详情：{link}",
    "awaiting_rating": "您反映的事项 {number} 已办结，请评价：{link}",
}
ALIYUN_DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"


@dataclass(frozen=True)
class Outcome:
    sent: bool
    provider_id: str | None = None
    error: str | None = None


class Channel(Protocol):
    """Sends one templated message to one phone."""

    name: str

    def send(self, phone: str, kind: str, params: Mapping[str, str]) -> Outcome: ...


class LogOnlyChannel:
    """The default: writes what would be sent to the log (phone masked), sends nothing."""

    name = "log"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, str]]] = []

    def send(self, phone: str, kind: str, params: Mapping[str, str]) -> Outcome:
        text = TEXT_ZH[kind].format(**params)
        log.info("sms (log only) to %s: %s", mask_phone(phone), text)
        self.sent.append((phone, kind, dict(params)))
        return Outcome(sent=True, provider_id="log")


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun's signature wants it."""
    return urllib.parse.quote(value, safe="-_.~")


def aliyun_string_to_sign(params: Mapping[str, str], method: str = "GET") -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def aliyun_signature(params: Mapping[str, str], secret: str, method: str = "GET") -> str:
    """Base64(HMAC-SHA1(secret + "&", StringToSign)) of the parameters (without Signature)."""
    digest = hmac.new(
        (secret + "&").encode(), aliyun_string_to_sign(params, method).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


class AliyunSmsChannel:
    """阿里云短信 SendSms (API version 2017-05-25) by HTTP GET with the RPC signature."""

    name = "aliyun"

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: Mapping[str, str],
        endpoint: str = ALIYUN_DEFAULT_ENDPOINT,
        region: str = "cn-hangzhou",
        timeout: float = 10.0,
    ) -> None:
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.templates = dict(templates)
        self.endpoint = endpoint
        self.region = region
        self.timeout = timeout

    def request_params(
        self,
        phone: str,
        kind: str,
        params: Mapping[str, str],
        *,
        now: datetime | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        """Every parameter of the GET request, `Signature` included."""
        query = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": phone,
            "RegionId": self.region,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": self.templates[kind],
            "TemplateParam": json.dumps(dict(params), ensure_ascii=False, separators=(",", ":")),
            "Timestamp": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        query["Signature"] = aliyun_signature(query, self.access_key_secret)
        return query

    def send(self, phone: str, kind: str, params: Mapping[str, str]) -> Outcome:
        if kind not in self.templates:
            return Outcome(sent=False, error=f"no template for {kind}")
        query = self.request_params(phone, kind, params)
        url = (
            self.endpoint
            + "?"
            + "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in query.items())
        )
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                body = json.loads(response.read().decode("utf-8"))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("sms to %s failed: %s", mask_phone(phone), exc)
            return Outcome(sent=False, error=str(exc))
        if body.get("Code") != "OK":
            log.warning(
                "sms to %s refused: %s %s", mask_phone(phone), body.get("Code"), body.get("Message")
            )
            return Outcome(sent=False, error=str(body.get("Code")))
        return Outcome(sent=True, provider_id=str(body.get("BizId") or ""))


def channel_from(config: Mapping[str, Any]) -> Channel:
    """The channel the settings name (MINQING_SMS_*): `log` unless `aliyun` is configured."""
    sms = config.get("SMS") or {}
    if sms.get("provider") == "aliyun":
        return AliyunSmsChannel(
            access_key_id=sms["access_key_id"],
            access_key_secret=sms["access_key_secret"],
            sign_name=sms["sign_name"],
            templates=sms.get("templates") or {},
            endpoint=sms.get("endpoint") or ALIYUN_DEFAULT_ENDPOINT,
            region=sms.get("region") or "cn-hangzhou",
        )
    return LogOnlyChannel()
