"""Signatures: known answers computed independently, and tampering detected."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from alerts.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify

BODY = '{"status":"firing","summary_zh":"锂电池"}'.encode()
SECRET = "s3cr3t-密钥"


def test_known_answer():
    expected = hmac.new(SECRET.encode("utf-8"), BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET, 1714550400) == {
        SIGNATURE_HEADER: f"sha256={expected}",
        TIMESTAMP_HEADER: "1714550400",
    }


def test_known_answer_fixed_vector():
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
    headers = sign(b"what do ya want for nothing?", "Jefe", 0)
    assert headers[SIGNATURE_HEADER] == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_verify_accepts_own_signature():
    assert verify(BODY, SECRET, sign(BODY, SECRET, 1)[SIGNATURE_HEADER])


@pytest.mark.parametrize(
    "body, secret, header",
    [
        (BODY + b" ", SECRET, None),  # tampered body
        (BODY.replace(b"firing", b"resolv"), SECRET, None),
        (BODY, "other", None),  # wrong secret
        (BODY, SECRET, "sha1=abc"),
        (BODY, SECRET, ""),
        (BODY, SECRET, "sha256=ünïcödé"),
        (BODY, "", None),
    ],
)
def test_verify_rejects(body, secret, header):
    if header is None:
        header = sign(BODY, SECRET, 1)[SIGNATURE_HEADER]
    assert verify(body, secret, header) is False


def test_verify_rejects_missing_header():
    assert verify(BODY, SECRET, None) is False


def test_empty_secret_cannot_sign():
    with pytest.raises(ValueError, match="empty"):
        sign(BODY, "", 1)
