"""Encryption at rest of gateway tokens and credentials (ADR 0034): AES-256-GCM through
`cryptography`, under a key ring so keys rotate without downtime.

An envelope is `v1.<key id>.<nonce b64url>.<ciphertext+tag b64url>`. The additional data binds
it to its row (tenant, table, row id): a ciphertext copied into another row does not decrypt.
Any key of the ring decrypts; only the current one encrypts; `billing keys rotate`
re-encrypts every row under the current key, after which an old key may leave the ring.

The ring is checked when it is read (`key_ring`: every key 32 bytes, ids [A-Za-z0-9_-]{1,32},
the current id in the ring, SettingsError naming the variable); the development key is made
only on the embedded SQLite default. `billing keys rotate|check` (`billing.keys_cli`).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from billing.config import Settings, SettingsError

VERSION = "v1"
# (table, ciphertext column, key id column): what `billing keys rotate` re-encrypts.
ENCRYPTED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("payment_methods", "token_ciphertext", "key_id"),
    ("gateway_credentials", "ciphertext", "key_id"),
)
# The column whose value is the row id in a row's additional data (`row_aad`).
ROW_ID_COLUMNS: dict[str, str] = {"payment_methods": "id", "gateway_credentials": "gateway"}
KEY_BYTES = 32  # AES-256
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # fits the key_id columns (String(32)) and the envelope
DEV_KEY_ID = "dev"


class DecryptionError(ValueError):
    """An envelope no key of the ring opens (wrong row, unknown key id, tampered)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def row_aad(tenant_id: str, table: str, row_id: str) -> bytes:
    return f"{tenant_id}\x1f{table}\x1f{row_id}".encode()


@dataclass(frozen=True)
class KeyRing:
    keys: Mapping[str, bytes]  # id -> 32 bytes
    current_id: str

    def encrypt(self, plaintext: str, aad: bytes) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.current_id]).encrypt(nonce, plaintext.encode(), aad)
        return f"{VERSION}.{self.current_id}.{_b64(nonce)}.{_b64(sealed)}"

    def decrypt(self, envelope: str, aad: bytes) -> str:
        try:
            version, key_id, nonce, sealed = envelope.split(".")
            if version != VERSION:
                raise ValueError(version)
            return AESGCM(self.keys[key_id]).decrypt(_unb64(nonce), _unb64(sealed), aad).decode()
        except Exception as exc:  # every failure is the same refusal
            raise DecryptionError("the stored secret does not decrypt under this key ring") from exc

    @staticmethod
    def key_id_of(envelope: str) -> str:
        return envelope.split(".")[1]


def parse_keys(text: str) -> dict[str, bytes]:
    """`BILLING_ENCRYPTION_KEYS` ("id:<base64 of 32 bytes>,id2:..."), every part checked;
    SettingsError naming the variable and the key id (never the key)."""
    keys: dict[str, bytes] = {}
    for number, part in enumerate(text.split(","), start=1):
        key_id, colon, encoded = part.strip().partition(":")
        if not colon or KEY_ID.fullmatch(key_id) is None:
            raise SettingsError(
                f"BILLING_ENCRYPTION_KEYS: entry {number} must be <id>:<base64 key>, the id"
                " 1 to 32 of A-Z a-z 0-9 _ -"
            )
        if key_id in keys:
            raise SettingsError(f"BILLING_ENCRYPTION_KEYS: key id {key_id!r} appears twice")
        try:
            standard = encoded.strip().replace("-", "+").replace("_", "/")
            key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise SettingsError(f"BILLING_ENCRYPTION_KEYS: key {key_id!r} is not base64") from None
        if len(key) != KEY_BYTES:
            raise SettingsError(
                f"BILLING_ENCRYPTION_KEYS: key {key_id!r} must be {KEY_BYTES} bytes (AES-256),"
                f" got {len(key)}"
            )
        keys[key_id] = key
    return keys


def key_ring(settings: Settings) -> KeyRing:
    """The configured ring, or on the embedded SQLite default a development key in data_dir.
    SettingsError (naming the variable) for a ring the server must not start with."""
    if settings.encryption_keys:
        keys = parse_keys(settings.encryption_keys)
        current = settings.encryption_key_id
        if not current:
            if len(keys) > 1:
                raise SettingsError(
                    "BILLING_ENCRYPTION_KEY_ID must name the current key when"
                    " BILLING_ENCRYPTION_KEYS holds more than one"
                )
            current = next(iter(keys))
        if current not in keys:
            raise SettingsError(
                f"BILLING_ENCRYPTION_KEY_ID {current!r} is not a key id of BILLING_ENCRYPTION_KEYS"
            )
        return KeyRing(keys, current)
    if settings.encryption_key_id:
        raise SettingsError("BILLING_ENCRYPTION_KEY_ID is set but BILLING_ENCRYPTION_KEYS is empty")
    if not settings.is_sqlite:
        raise SettingsError(
            "set BILLING_ENCRYPTION_KEYS and BILLING_ENCRYPTION_KEY_ID: gateway tokens are"
            " encrypted at rest, and the development key is only for the embedded SQLite"
            " database"
        )
    path = Path(settings.data_dir) / "dev-encryption.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_b64(secrets.token_bytes(32)))
        path.chmod(0o600)
    key = _unb64(path.read_text().strip())
    if len(key) != KEY_BYTES:
        raise SettingsError(f"{path}: the development key must be {KEY_BYTES} bytes")
    return KeyRing({DEV_KEY_ID: key}, DEV_KEY_ID)
