"""Encryption at rest of gateway tokens and credentials (ADR 0034): AES-256-GCM through
`cryptography`, under a key ring so keys rotate without downtime.

An envelope is `v1.<key id>.<nonce b64url>.<ciphertext+tag b64url>`. The additional data binds
it to its row (tenant, table, row id): a ciphertext copied into another row does not decrypt.
Any key of the ring decrypts; only the current one encrypts; `billing keys rotate`
re-encrypts every row under the current key, after which an old key may leave the ring.

SEAM: the key ring from settings and the development key are here; the rotation command, the
checks on key sizes and ids, and the production refusal of the development key are to come.
"""

from __future__ import annotations

import base64
import os
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


def key_ring(settings: Settings) -> KeyRing:
    """The configured ring, or on the embedded default a development key in data_dir."""
    if settings.encryption_keys:
        keys: dict[str, bytes] = {}
        for part in settings.encryption_keys.split(","):
            key_id, _, encoded = part.strip().partition(":")
            keys[key_id] = _unb64(encoded)
        current = settings.encryption_key_id or next(iter(keys))
        return KeyRing(keys, current)
    if not settings.is_sqlite:
        raise SettingsError(
            "set BILLING_ENCRYPTION_KEYS and BILLING_ENCRYPTION_KEY_ID: gateway tokens are"
            " encrypted at rest"
        )
    path = Path(settings.data_dir) / "dev-encryption.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_b64(secrets.token_bytes(32)))
        path.chmod(0o600)
    return KeyRing({"dev": _unb64(path.read_text().strip())}, "dev")
