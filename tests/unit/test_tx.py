"""Unit tests of signed transactions: identity, signatures, shape checks and decoding."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chainnode import codec, crypto, tx
from chainnode.errors import (
    InputTooLarge,
    InvalidField,
    InvalidInput,
    MalformedEncoding,
    NonCanonicalEncoding,
    TrailingBytes,
    UnknownTag,
    UnsupportedVersion,
)

KEY = crypto.PrivateKey(bytes([1]) * 32)
OTHER_KEY = crypto.PrivateKey(bytes([2]) * 32)
CHAIN = "gov-test-1"


def make_body(**changes: Any) -> tx.TxBody:
    body = tx.TxBody(
        chain_id=CHAIN,
        contract="anchor",
        method="record",
        args={"content_hash": bytes(range(32)), "label": "deed 42", "pages": 3},
        signer=KEY.public_key,
        nonce=bytes(range(16)),
        expiry_height=100,
    )
    return replace(body, **changes)


def frame(fields: list[codec.Value], *, tag: int = tx.TAG_TX, version: int = tx.TX_VERSION) -> bytes:
    """Encode `fields` as a transaction would be, with any tag and version."""
    return codec.encode_object(tag, version, fields)


def signed_fields(body: tx.TxBody, signature: bytes = bytes(64)) -> list[codec.Value]:
    return [*body.fields(), signature]


# --- identity and signatures -------------------------------------------------------------------------


def test_sign_and_decode_round_trip() -> None:
    signed = tx.sign_transaction(KEY, make_body())
    decoded = tx.decode_transaction(signed.raw)
    assert decoded == signed
    assert decoded.raw == signed.raw
    assert decoded.tx_id == signed.tx_id
    assert decoded.signature == signed.signature
    assert decoded.signer == KEY.public_key
    assert decoded.is_signature_valid()
    expected = codec.encode_object(tx.TAG_TX, tx.TX_VERSION, [*signed.body.fields(), signed.signature])
    assert signed.raw == expected


def test_body_encoding_is_a_tagged_array_in_field_order() -> None:
    body = make_body()
    assert codec.decode(body.encode(), max_size=4096) == [
        tx.TAG_TX_BODY,
        tx.TX_VERSION,
        CHAIN,
        "anchor",
        "record",
        {"content_hash": bytes(range(32)), "label": "deed 42", "pages": 3},
        KEY.public_key,
        bytes(range(16)),
        100,
    ]


def test_tx_id_is_the_domain_hash_of_the_unsigned_body() -> None:
    body = make_body()
    assert body.compute_tx_id() == crypto.compute_hash(crypto.DOMAIN_TX, body.encode())
    assert tx.sign_transaction(KEY, body).tx_id == body.compute_tx_id()


def test_tx_id_excludes_the_signature() -> None:
    body = make_body()
    signed = tx.sign_transaction(KEY, body)
    resigned = tx.sign_transaction(KEY, body)
    other_signature = tx.Transaction(body, bytes(64))
    assert resigned.tx_id == signed.tx_id
    assert other_signature.tx_id == signed.tx_id
    assert other_signature.raw != signed.raw
    assert signed.signature not in body.encode()


# The body bytes are cut out of the signed bytes when the signature is 64 bytes. With another length
# the frame can look right by chance (the last two cases): the tx_id must still be the body's hash.
@pytest.mark.parametrize(
    ("expiry_height", "signature"),
    [
        pytest.param(100, bytes(64), id="64 bytes"),
        pytest.param(100, b"", id="empty"),
        pytest.param(100, bytes(10), id="10 bytes"),
        pytest.param(100, bytes(65), id="65 bytes"),
        pytest.param(
            100,
            b"\xc4\x40" + bytes(64),
            id="66 bytes starting c4 40",
        ),
        pytest.param(
            0xC440,
            bytes(62),
            id="62 bytes after expiry 0xc440",
        ),
    ],
)
def test_tx_id_does_not_depend_on_the_signature(expiry_height: int, signature: bytes) -> None:
    body = make_body(expiry_height=expiry_height)
    assert tx.Transaction(body, signature).tx_id == body.compute_tx_id()


def test_decoded_tx_id_is_the_hash_of_the_decoded_body() -> None:
    decoded = tx.decode_transaction(tx.sign_transaction(KEY, make_body()).raw)
    assert decoded.tx_id == decoded.body.compute_tx_id()
    assert decoded.tx_id == crypto.compute_hash(crypto.DOMAIN_TX, decoded.body.encode())


def test_signing_bytes_are_domain_separated_and_name_the_chain() -> None:
    body = make_body()
    assert body.compute_signing_bytes() == crypto.compute_signing_bytes(crypto.SIGN_TX, CHAIN, body.encode())


def test_tx_id_changes_with_every_field() -> None:
    ids = {make_body(**{name: value}).compute_tx_id() for name, value in CHANGED_FIELDS}
    assert make_body().compute_tx_id() not in ids
    assert len(ids) == len(CHANGED_FIELDS)


CHANGED_FIELDS: list[tuple[str, Any]] = [
    ("chain_id", "gov-test-2"),
    ("contract", "anchors"),
    ("method", "revoke"),
    ("args", {"content_hash": bytes(range(32)), "label": "deed 43", "pages": 3}),
    ("args", {"content_hash": bytes(range(32)), "label": "deed 42", "pages": 3, "x": None}),
    ("signer", OTHER_KEY.public_key),
    ("nonce", bytes(range(1, 17))),
    ("nonce", bytes(range(17))),
    ("expiry_height", 101),
]


@pytest.mark.parametrize(
    ("name", "value"), CHANGED_FIELDS, ids=[f"{name}-{i}" for i, (name, _) in enumerate(CHANGED_FIELDS)]
)
def test_signature_is_invalid_after_changing_any_field(name: str, value: Any) -> None:
    signed = tx.sign_transaction(KEY, make_body())
    assert signed.is_signature_valid()
    tampered = tx.Transaction(replace(signed.body, **{name: value}), signed.signature)
    assert not tampered.is_signature_valid()
    # and the same holds after the tampered transaction travels as bytes
    assert not tx.decode_transaction(tampered.raw).is_signature_valid()


def test_signature_is_invalid_after_changing_the_signature() -> None:
    signed = tx.sign_transaction(KEY, make_body())
    changed = bytearray(signed.signature)
    changed[10] ^= 0x80
    assert not tx.Transaction(signed.body, bytes(changed)).is_signature_valid()
    by_other_key = OTHER_KEY.sign(signed.body.compute_signing_bytes())
    assert not tx.Transaction(signed.body, by_other_key).is_signature_valid()


def test_sign_transaction_refuses_a_body_of_another_signer() -> None:
    with pytest.raises(InvalidField, match="signer is not the signing key") as caught:
        tx.sign_transaction(OTHER_KEY, make_body())
    assert caught.value.field == "signer"


# --- shape errors ------------------------------------------------------------------------------------

SHAPE_ERRORS: list[tuple[str, dict[str, object], str, str]] = [
    # (id, field changes, field at fault, words in the message)
    ("empty chain_id", {"chain_id": ""}, "chain_id", "chain_id must be a string of 1..64"),
    ("long chain_id", {"chain_id": "c" * 65}, "chain_id", "chain_id must be a string of 1..64"),
    ("chain_id bytes", {"chain_id": b"gov"}, "chain_id", "chain_id must be a string"),
    ("contract with uppercase", {"contract": "Anchor"}, "contract", "contract 'Anchor' must be lowercase"),
    ("contract with a dot", {"contract": "anchor.v2"}, "contract", "lowercase letters, digits and '_'"),
    ("contract with a dash", {"contract": "anchor-v2"}, "contract", "must be lowercase letters"),
    ("contract starting with a digit", {"contract": "2anchor"}, "contract", "must be lowercase letters"),
    ("contract starting with _", {"contract": "_anchor"}, "contract", "must be lowercase letters"),
    ("empty contract", {"contract": ""}, "contract", "contract must be a string of 1..64"),
    ("long contract", {"contract": "a" * 65}, "contract", "contract must be a string of 1..64"),
    ("contract not a str", {"contract": 5}, "contract", "contract must be a string"),
    ("method with uppercase", {"method": "Record"}, "method", "method 'Record' must be lowercase"),
    ("method with a space", {"method": "re cord"}, "method", "must be lowercase letters"),
    ("empty method", {"method": ""}, "method", "method must be a string of 1..64"),
    ("signer of 31 bytes", {"signer": bytes(31)}, "signer", "signer must be 32 bytes, got 31"),
    ("signer of 33 bytes", {"signer": bytes(33)}, "signer", "signer must be 32 bytes, got 33"),
    ("signer as hex str", {"signer": "00" * 32}, "signer", "signer must be bytes"),
    ("nonce of 7 bytes", {"nonce": bytes(7)}, "nonce", "nonce must be 8 to 32 bytes"),
    ("empty nonce", {"nonce": b""}, "nonce", "nonce must be 8 to 32 bytes"),
    ("nonce of 33 bytes", {"nonce": bytes(33)}, "nonce", "nonce is longer than 32 bytes"),
    ("nonce as str", {"nonce": "n" * 16}, "nonce", "nonce must be bytes"),
    ("expiry 0", {"expiry_height": 0}, "expiry_height", "expiry_height must be an integer in [1, "),
    ("expiry -1", {"expiry_height": -1}, "expiry_height", "expiry_height must be an integer in [1, "),
    ("expiry 2**63", {"expiry_height": 2**63}, "expiry_height", "expiry_height must be an integer"),
    ("expiry True", {"expiry_height": True}, "expiry_height", "expiry_height must be an integer"),
    ("expiry None", {"expiry_height": None}, "expiry_height", "expiry_height must be an integer"),
]

SHAPE_CASES = [case[1:] for case in SHAPE_ERRORS]
SHAPE_IDS = [case[0] for case in SHAPE_ERRORS]


@pytest.mark.parametrize(("changes", "field", "words"), SHAPE_CASES, ids=SHAPE_IDS)
def test_validate_tx_body_names_the_field(changes: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(InvalidField) as caught:
        tx.validate_tx_body(make_body(**changes))
    assert caught.value.field == field
    assert words in caught.value.message


@pytest.mark.parametrize(("changes", "field", "words"), SHAPE_CASES, ids=SHAPE_IDS)
def test_decode_transaction_names_the_field(changes: dict[str, object], field: str, words: str) -> None:
    data = frame(signed_fields(make_body(**changes)))
    with pytest.raises(InvalidField) as caught:
        tx.decode_transaction(data)
    assert caught.value.field == field
    assert words in caught.value.message


# A body whose signer is not 32 bytes is not KEY's: test_sign_transaction_refuses_a_body_of_another_signer.
SIGNABLE_SHAPE_ERRORS = [case for case in SHAPE_ERRORS if case[2] != "signer"]


@pytest.mark.parametrize(
    ("changes", "field"), [c[1:3] for c in SIGNABLE_SHAPE_ERRORS], ids=[c[0] for c in SIGNABLE_SHAPE_ERRORS]
)
def test_sign_transaction_refuses_a_bad_shape(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        tx.sign_transaction(KEY, make_body(**changes))
    assert caught.value.field == field


@pytest.mark.parametrize(
    "changes",
    [
        {"nonce": bytes(8)},
        {"nonce": bytes(32)},
        {"expiry_height": 1},
        {"expiry_height": 2**63 - 1},
        {"contract": "a"},
        {"contract": "a" * 64},
        {"method": "issue_v2"},
        {"chain_id": "c" * 64},
        {"args": None},
        {"args": []},
    ],
    ids=repr,
)
def test_bounds_are_accepted(changes: dict[str, object]) -> None:
    signed = tx.sign_transaction(KEY, make_body(**changes))
    assert tx.decode_transaction(signed.raw) == signed
    assert signed.is_signature_valid()


# A regex "$" also matches before a final newline: the names must match in full.
@pytest.mark.parametrize("name", ["contract", "method"])
@pytest.mark.parametrize("bad", ["anchor\n", "anchor\r", "\nanchor", "anchor\x00"], ids=repr)
def test_names_with_control_characters_are_refused(name: str, bad: str) -> None:
    with pytest.raises(InvalidField) as caught:
        tx.validate_tx_body(make_body(**{name: bad}))
    assert caught.value.field == name


# --- decoding errors ---------------------------------------------------------------------------------


def test_decode_transaction_rejects_a_bad_signature_size() -> None:
    for size in (0, 63, 65):
        with pytest.raises(InvalidField, match=f"signature must be 64 bytes, got {size}") as caught:
            tx.decode_transaction(frame(signed_fields(make_body(), bytes(size))))
        assert caught.value.field == "signature"


def test_decode_transaction_does_not_check_the_signature() -> None:
    unsigned = tx.decode_transaction(frame(signed_fields(make_body(), bytes(64))))
    assert not unsigned.is_signature_valid()


def test_decode_transaction_rejects_a_body_without_signature() -> None:
    body = make_body()
    with pytest.raises(UnknownTag, match="transaction: expected tag 1, got 9"):
        tx.decode_transaction(body.encode())
    with pytest.raises(MalformedEncoding, match="transaction: expected 8 fields, got 7"):
        tx.decode_transaction(frame(body.fields()))


UNSIG = signed_fields(make_body())  # all-zero signature: decoding does not check it


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        pytest.param(frame(UNSIG, version=2), UnsupportedVersion, "version 2 is not", id="version 2"),
        pytest.param(frame(UNSIG, tag=2), UnknownTag, "expected tag 1, got 2", id="header tag"),
        pytest.param(frame([*UNSIG, 0]), MalformedEncoding, "expected 8 fields, got 9", id="9 fields"),
        pytest.param(frame(UNSIG) + b"\x00", TrailingBytes, "1 trailing bytes", id="trailing byte"),
        pytest.param(frame(UNSIG)[:-1], MalformedEncoding, "incomplete input", id="truncated"),
        pytest.param(b"\xdc\x00\x0a" + frame(UNSIG)[1:], NonCanonicalEncoding, "canonical", id="array16 frame"),
        pytest.param(codec.encode({"tag": 1}), MalformedEncoding, "expected an array", id="a map"),
        pytest.param(b"", MalformedEncoding, "empty input", id="empty"),
    ],
)
def test_decode_transaction_rejects(data: bytes, error: type[InvalidInput], words: str) -> None:
    with pytest.raises(error) as caught:
        tx.decode_transaction(data)
    assert type(caught.value) is error
    assert words in caught.value.message


def test_decode_transaction_enforces_max_size() -> None:
    raw = tx.sign_transaction(KEY, make_body()).raw
    assert tx.decode_transaction(raw, max_size=len(raw)).raw == raw
    with pytest.raises(InputTooLarge, match=f"{len(raw)} bytes exceed the limit of {len(raw) - 1}"):
        tx.decode_transaction(raw, max_size=len(raw) - 1)
    big = tx.sign_transaction(KEY, make_body(args={"blob": bytes(tx.DEFAULT_MAX_TX_BYTES)}))
    with pytest.raises(InputTooLarge):
        tx.decode_transaction(big.raw)
