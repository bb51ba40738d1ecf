"""Signatures: known answers computed independently, and tampering detected."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from alerts.signing import SIGNATURE_HEADER, SIGNATURE_V2_HEADER, TIMESTAMP_HEADER, sign, verify, verify_v2

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


# --- v2: timestamp and Idempotency-Key signed too (issue 25) ---

_BODY = b'{"status":"firing","alerts":[]}'
_KEY = "default-webhook:3f2a9c"
_T = 1_765_000_000


def _v2(body: bytes = _BODY, key: str = _KEY, t: int = _T, secret: str = "s3cret") -> str:
    return sign(body, secret, t, key)[SIGNATURE_V2_HEADER]


def test_v2_header_is_stripe_like_and_verifies_within_the_window():
    header = _v2()
    assert header.startswith(f"t={_T},v1=") and len(header.split("v1=")[1]) == 64
    assert verify_v2(_BODY, "s3cret", header, _KEY, now=_T + 299)
    assert verify_v2(_BODY, "s3cret", header, _KEY, now=_T - 299)  # receiver's clock a little behind


def test_v1_header_is_kept_beside_v2():
    headers = sign(_BODY, "s3cret", _T, _KEY)
    assert verify(_BODY, "s3cret", headers["X-Chainwatch-Signature"])
    assert "X-Chainwatch-Signature-V2" not in sign(_BODY, "s3cret", _T)  # no key, no v2


def test_replay_with_a_fresh_idempotency_key_fails():
    captured = _v2()
    assert not verify_v2(_BODY, "s3cret", captured, "default-webhook:fresh-key", now=_T + 1)


def test_replay_with_a_new_timestamp_fails():
    captured = _v2()
    forged = captured.replace(f"t={_T}", f"t={_T + 3600}")
    assert not verify_v2(_BODY, "s3cret", forged, _KEY, now=_T + 3600)


def test_a_request_older_than_the_tolerance_fails():
    assert not verify_v2(_BODY, "s3cret", _v2(), _KEY, now=_T + 301)
    assert verify_v2(_BODY, "s3cret", _v2(), _KEY, now=_T + 3000, tolerance_seconds=3600)


@pytest.mark.parametrize("header", [None, "", "t=abc,v1=00", f"v1={'0' * 64}", f"t={_T}", f"t={_T},v1=zz",
                                    f"t={_T},v1=é"])
def test_malformed_v2_headers_fail(header):
    assert not verify_v2(_BODY, "s3cret", header, _KEY, now=_T)


def test_tampered_body_or_wrong_secret_fails_and_rotation_is_accepted():
    assert not verify_v2(_BODY + b" ", "s3cret", _v2(), _KEY, now=_T)
    assert not verify_v2(_BODY, "other", _v2(), _KEY, now=_T)
    rotated = f"t={_T},v1={_v2(secret='old').split('v1=')[1]},v1={_v2().split('v1=')[1]}"
    assert verify_v2(_BODY, "s3cret", rotated, _KEY, now=_T)


def test_v2_known_answer():
    expected = hmac.new(SECRET.encode("utf-8"), f"{_T}.{_KEY}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET, _T, _KEY)[SIGNATURE_V2_HEADER] == f"t={_T},v1={expected}"
