"""Aliyun SMS request signing (RPC signature V1) against the provider's documented example,
and the SMS settings' checks."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from server.config import ConfigError, load_config
from server.services.messaging.sms import (
    AliyunSmsChannel,
    aliyun_signature,
    aliyun_string_to_sign,
    percent_encode,
)

# The example of Aliyun's SMS documentation ("签名机制" / signature example).
DOC_PARAMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}


def test_the_documented_example_signs_to_the_documented_signature() -> None:
    assert aliyun_signature(DOC_PARAMS, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_string_to_sign_is_method_slash_and_the_sorted_encoded_query() -> None:
    text = aliyun_string_to_sign({"b": "2", "a": "x y"})
    assert text == "GET&%2F&" + quote("a=x%20y&b=2", safe="")


def test_percent_encoding_is_rfc3986() -> None:
    assert percent_encode("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9"


def test_request_params_carry_template_phone_and_a_valid_signature() -> None:
    channel = AliyunSmsChannel(
        access_key_id="id",
        access_key_secret="secret",
        sign_name="民情",
        templates={"accepted": "SMS_1"},
    )
    now = datetime(2026, 12, 3, 10, 0, 5, tzinfo=UTC)
    params = channel.request_params(
        "13800001234", "accepted", {"number": "QJ-1", "link": "https://x/r/t"}, now=now, nonce="n"
    )
    assert params["Timestamp"] == "2026-12-03T10:00:05Z"
    assert params["TemplateCode"] == "SMS_1" and params["PhoneNumbers"] == "13800001234"
    signature = params.pop("Signature")
    assert signature == aliyun_signature(params, "secret")
    assert signature != aliyun_signature(params, "other")


def test_aliyun_settings_are_complete_or_the_service_refuses_to_start() -> None:
    base = {"MINQING_ENV": "testing"}
    assert load_config(base)["SMS"]["provider"] == "log"
    with pytest.raises(ConfigError, match=r"templates\.handled"):
        load_config(
            {
                **base,
                "MINQING_SMS_PROVIDER": "aliyun",
                "MINQING_SMS_ACCESS_KEY_ID": "id",
                "MINQING_SMS_ACCESS_KEY_SECRET": "s",
                "MINQING_SMS_SIGN_NAME": "民情",
                "MINQING_SMS_TEMPLATES": '{"accepted": "SMS_1", "awaiting_rating": "SMS_3"}',
            }
        )
    with pytest.raises(ConfigError):
        load_config({**base, "MINQING_SMS_PROVIDER": "carrier-pigeon"})
