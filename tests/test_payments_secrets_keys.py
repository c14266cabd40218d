"""The key ring (ADR 0034, 0039): settings checked at start, `billing keys rotate` re-encrypting
every stored secret under the current key online, `billing keys check`, and the row binding
(additional data) that keeps a ciphertext from being read in another row. On SQLite and
PostgreSQL: rows are written through `billing.store.crypto` with plain SQL inserts."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from billing import cli, keys_cli
from billing.config import Settings, SettingsError
from billing.runtime import Runtime
from billing.store import schema
from billing.store.crypto import DecryptionError, KeyRing, key_ring, row_aad
from billing.store.engine import create_engine
from conftest import Database

KEY_A = os.urandom(32)
KEY_B = os.urandom(32)
AT = datetime(2026, 12, 6, tzinfo=UTC)


def b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def ring_setting(*keys: tuple[str, bytes]) -> str:
    return ",".join(f"{kid}:{b64(key)}" for kid, key in keys)


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "current", "named"),
    [
        (f"a:{b64(os.urandom(16))}", "a", "must be 32 bytes"),
        (f"a:{b64(os.urandom(33))}", "a", "must be 32 bytes"),
        ("a:not*base64!", "a", "is not base64"),
        (f"bad id:{b64(KEY_A)}", "", "entry 1 must be <id>:<base64 key>"),
        (f"{'k' * 33}:{b64(KEY_A)}", "", "entry 1 must be"),
        (b64(KEY_A), "", "entry 1 must be"),
        (f"a:{b64(KEY_A)},a:{b64(KEY_B)}", "a", "appears twice"),
        (f"a:{b64(KEY_A)}", "b", "BILLING_ENCRYPTION_KEY_ID 'b' is not a key id"),
        (f"a:{b64(KEY_A)},b:{b64(KEY_B)}", "", "BILLING_ENCRYPTION_KEY_ID must name"),
        ("", "a", "BILLING_ENCRYPTION_KEYS is empty"),
    ],
    # Fixed ids: the random keys would name the cases differently in each xdist worker.
    ids=[
        "key-16-bytes",
        "key-33-bytes",
        "not-base64",
        "bad-id",
        "id-too-long",
        "no-id",
        "id-twice",
        "current-unknown",
        "current-unnamed",
        "empty",
    ],
)
def test_a_bad_ring_is_refused_naming_the_variable(keys: str, current: str, named: str) -> None:
    settings = Settings(encryption_keys=keys, encryption_key_id=current, data_dir="/nonexistent")
    with pytest.raises(SettingsError, match="BILLING_ENCRYPTION_KEY") as refused:
        key_ring(settings)
    assert named in str(refused.value)
    assert b64(KEY_A) not in str(refused.value) and b64(KEY_B) not in str(refused.value)


def test_a_good_ring_and_its_defaults(tmp_path: object) -> None:
    ring = key_ring(Settings(encryption_keys=ring_setting(("a", KEY_A)), data_dir="/nonexistent"))
    assert ring.current_id == "a" and ring.keys == {"a": KEY_A}
    standard = base64.b64encode(KEY_B).decode()  # standard alphabet and padding accepted too
    ring = key_ring(
        Settings(encryption_keys=f"a:{b64(KEY_A)}, b_2-x:{standard}", encryption_key_id="b_2-x")
    )
    assert ring.current_id == "b_2-x" and ring.keys["b_2-x"] == KEY_B


def test_the_development_key_only_on_sqlite(tmp_path: object) -> None:
    pg = Settings(database_url="postgresql+psycopg://x@127.0.0.1/none", data_dir=str(tmp_path))
    with pytest.raises(SettingsError, match="BILLING_ENCRYPTION_KEYS"):
        key_ring(pg)
    with pytest.raises(SettingsError, match="BILLING_ENCRYPTION_KEYS"):
        Runtime(pg)  # the server refuses to start, before it touches the database
    sqlite = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/b.db", data_dir=str(tmp_path))
    first, again = key_ring(sqlite), key_ring(sqlite)
    assert first.current_id == "dev" and len(first.keys["dev"]) == 32
    assert again.keys == first.keys  # kept in data_dir


def test_the_cli_reports_a_bad_ring_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BILLING_ENCRYPTION_KEYS", f"a:{b64(os.urandom(16))}")
    assert cli.main(["keys", "check"]) == 2
    assert "BILLING_ENCRYPTION_KEYS: key 'a' must be 32 bytes" in capsys.readouterr().err


# --- rows on both databases -------------------------------------------------------------------


def method_row(tenant_id: str, method_id: str, token: str, ring: KeyRing) -> dict[str, object]:
    sealed = ring.encrypt(token, row_aad(tenant_id, "payment_methods", method_id))
    return {
        "tenant_id": tenant_id,
        "id": method_id,
        "customer_id": "cus_1",
        "gateway": "sandbox",
        "token_ciphertext": sealed,
        "key_id": ring.current_id,
        "type": "card",
        "fingerprint": "fp",
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2030,
        "country": "FR",
        "billing_country": "FR",
        "is_default": False,
        "created_at": AT,
        "version": 1,
    }


def credentials_row(tenant_id: str, gateway: str, secret: str, ring: KeyRing) -> dict[str, object]:
    sealed = ring.encrypt(secret, row_aad(tenant_id, "gateway_credentials", gateway))
    return {
        "tenant_id": tenant_id,
        "gateway": gateway,
        "ciphertext": sealed,
        "key_id": ring.current_id,
        "names": ["api_key"],
        "updated_at": AT,
        "version": 1,
    }


def run(database: Database, work: Callable[..., object]) -> object:
    async def go() -> object:
        engine = create_engine(database.async_url, pool_size=1)
        try:
            return await work(engine)  # type: ignore[misc]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def stored(engine: sa.Engine, tenant_id: str) -> dict[str, tuple[str, str]]:
    """row id -> (ciphertext, key id) of the tenant's secrets, both tables."""
    pm, gc = schema.payment_methods, schema.gateway_credentials
    with engine.connect() as conn:
        rows = {
            f"pm/{r.id}": (r.token_ciphertext, r.key_id)
            for r in conn.execute(sa.select(pm).where(pm.c.tenant_id == tenant_id))
        }
        rows |= {
            f"gc/{r.gateway}": (r.ciphertext, r.key_id)
            for r in conn.execute(sa.select(gc).where(gc.c.tenant_id == tenant_id))
        }
    return rows


def test_rotate_moves_every_row_to_the_current_key(
    backend: str, make_database: Callable[[str], Database]
) -> None:
    database = make_database(backend)
    engine = sa.create_engine(database.sync_url, poolclass=sa.pool.NullPool)
    tenant = f"t_{uuid.uuid4().hex[:12]}"
    ring_a = KeyRing({"a": KEY_A}, "a")
    tokens = {f"pm_{i:03d}": f"tok_visa_{i}" for i in range(7)}
    with engine.begin() as conn:
        conn.execute(
            schema.payment_methods.insert(),
            [method_row(tenant, mid, tok, ring_a) for mid, tok in tokens.items()],
        )
        conn.execute(
            schema.gateway_credentials.insert(),
            [
                credentials_row(tenant, "stripe", '{"api_key": "sk_test_1"}', ring_a),
                credentials_row(tenant, "adyen", '{"api_key": "AQE_2"}', ring_a),
            ],
        )
    before = stored(engine, tenant)
    assert {kid for _, kid in before.values()} == {"a"}

    ring_ab = KeyRing({"a": KEY_A, "b": KEY_B}, "b")
    reports = run(database, lambda e: keys_cli.rotate_all(e, ring_ab, batch_rows=3))
    assert [(r.table, r.rotated, r.already_current, r.unreadable) for r in reports] == [  # type: ignore[attr-defined]
        ("payment_methods", 7, 0, 0),
        ("gateway_credentials", 2, 0, 0),
    ]
    after = stored(engine, tenant)
    assert {kid for _, kid in after.values()} == {"b"}
    assert all(KeyRing.key_id_of(sealed) == "b" for sealed, _ in after.values())
    assert all(after[k][0] != before[k][0] for k in before)

    # A can leave the ring: B alone decrypts every row to the same plaintext.
    ring_b = KeyRing({"b": KEY_B}, "b")
    for mid, token in tokens.items():
        aad = row_aad(tenant, "payment_methods", mid)
        assert ring_b.decrypt(after[f"pm/{mid}"][0], aad) == token
    aad = row_aad(tenant, "gateway_credentials", "stripe")
    assert ring_b.decrypt(after["gc/stripe"][0], aad) == '{"api_key": "sk_test_1"}'
    checked = run(database, lambda e: keys_cli.check_all(e, ring_b))
    assert [(r.table, r.by_key, r.unreadable) for r in checked] == [  # type: ignore[attr-defined]
        ("payment_methods", {"b": 7}, 0),
        ("gateway_credentials", {"b": 2}, 0),
    ]

    # Idempotent: a second run finds everything current and changes nothing.
    again = run(database, lambda e: keys_cli.rotate_all(e, ring_ab, batch_rows=3))
    assert [(r.rotated, r.already_current) for r in again] == [(0, 7), (0, 2)]  # type: ignore[attr-defined]
    assert stored(engine, tenant) == after
    engine.dispose()


def test_a_copied_or_tampered_ciphertext_does_not_decrypt(
    backend: str, make_database: Callable[[str], Database]
) -> None:
    database = make_database(backend)
    engine = sa.create_engine(database.sync_url, poolclass=sa.pool.NullPool)
    tenant = f"t_{uuid.uuid4().hex[:12]}"
    ring_a = KeyRing({"a": KEY_A}, "a")
    pm = schema.payment_methods
    with engine.begin() as conn:
        conn.execute(
            pm.insert(),
            [method_row(tenant, mid, f"tok_{mid}", ring_a) for mid in ("pm_1", "pm_2", "pm_3")],
        )
        original = conn.execute(
            sa.select(pm.c.token_ciphertext).where(pm.c.tenant_id == tenant, pm.c.id == "pm_1")
        ).scalar_one()
        # pm_2 gets pm_1's ciphertext (copied to another row id); pm_3's last character flips.
        conn.execute(
            pm.update()
            .where(pm.c.tenant_id == tenant, pm.c.id == "pm_2")
            .values(token_ciphertext=original)
        )
        sealed_3 = conn.execute(
            sa.select(pm.c.token_ciphertext).where(pm.c.tenant_id == tenant, pm.c.id == "pm_3")
        ).scalar_one()
        flipped = sealed_3[:-1] + ("A" if sealed_3[-1] != "A" else "B")
        conn.execute(
            pm.update()
            .where(pm.c.tenant_id == tenant, pm.c.id == "pm_3")
            .values(token_ciphertext=flipped)
        )
    with pytest.raises(DecryptionError):
        ring_a.decrypt(original, row_aad(tenant, "payment_methods", "pm_2"))
    with pytest.raises(DecryptionError):
        ring_a.decrypt(original, row_aad("t_other", "payment_methods", "pm_1"))
    with pytest.raises(DecryptionError):
        ring_a.decrypt(flipped, row_aad(tenant, "payment_methods", "pm_3"))
    assert ring_a.decrypt(original, row_aad(tenant, "payment_methods", "pm_1")) == "tok_pm_1"

    checked = run(database, lambda e: keys_cli.check_all(e, ring_a))
    methods = checked[0]  # type: ignore[index]
    assert methods.unreadable == 2
    assert methods.unreadable_rows == [f"{tenant}/pm_2", f"{tenant}/pm_3"]
    # Rotation leaves what it cannot read as it is, names it, and moves the rest.
    ring_ab = KeyRing({"a": KEY_A, "b": KEY_B}, "b")
    rotated = run(database, lambda e: keys_cli.rotate_all(e, ring_ab, batch_rows=500))
    assert (rotated[0].rotated, rotated[0].unreadable) == (1, 2)  # type: ignore[index]
    rows = stored(engine, tenant)
    assert rows["pm/pm_1"][1] == "b" and rows["pm/pm_2"] == (original, "a")
    engine.dispose()


def test_rotation_loses_to_a_concurrent_writer(
    backend: str, make_database: Callable[[str], Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server writes the row between the rotation's read and its update: the server's new
    ciphertext is kept (the compare-and-set on the old ciphertext finds it changed)."""
    if backend == "sqlite":
        pytest.skip("SQLite has one writer: no write can come between the read and the update")
    database = make_database(backend)
    engine = sa.create_engine(database.sync_url, poolclass=sa.pool.NullPool)
    tenant = f"t_{uuid.uuid4().hex[:12]}"
    ring_ab = KeyRing({"a": KEY_A, "b": KEY_B}, "b")
    ring_a = KeyRing({"a": KEY_A}, "a")
    pm = schema.payment_methods
    with engine.begin() as conn:
        conn.execute(pm.insert(), [method_row(tenant, "pm_1", "tok_old", ring_a)])
    newer = ring_ab.encrypt("tok_new", row_aad(tenant, "payment_methods", "pm_1"))
    real_decrypt = KeyRing.decrypt

    def decrypt_then_writer_wins(self: KeyRing, envelope: str, aad: bytes) -> str:
        plaintext = real_decrypt(self, envelope, aad)
        with engine.begin() as conn:  # another connection, committed before the update
            conn.execute(
                pm.update()
                .where(pm.c.tenant_id == tenant, pm.c.id == "pm_1")
                .values(token_ciphertext=newer, key_id="b")
            )
        return plaintext

    monkeypatch.setattr(KeyRing, "decrypt", decrypt_then_writer_wins)
    reports = run(database, lambda e: keys_cli.rotate_all(e, ring_ab, batch_rows=10))
    assert (reports[0].rotated, reports[0].changed_meanwhile) == (0, 1)  # type: ignore[index]
    with engine.connect() as conn:
        kept = conn.execute(
            sa.select(pm.c.token_ciphertext).where(pm.c.tenant_id == tenant, pm.c.id == "pm_1")
        ).scalar_one()
    assert kept == newer
    engine.dispose()


def test_the_cli_rotates_and_checks(
    make_database: Callable[[str], Database],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = make_database("sqlite")
    engine = sa.create_engine(database.sync_url, poolclass=sa.pool.NullPool)
    tenant = f"t_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(
            schema.payment_methods.insert(),
            [method_row(tenant, "pm_1", "tok_1", KeyRing({"a": KEY_A}, "a"))],
        )
    monkeypatch.setenv("BILLING_DATABASE_URL", database.async_url)
    monkeypatch.setenv("BILLING_ENCRYPTION_KEYS", ring_setting(("a", KEY_A), ("b", KEY_B)))
    monkeypatch.setenv("BILLING_ENCRYPTION_KEY_ID", "b")
    assert cli.main(["keys", "rotate", "--batch-rows", "1"]) == 0
    out = capsys.readouterr().out
    assert '"table": "payment_methods", "rotated": 1' in out
    assert "re-encrypted under key 'b'" in out
    monkeypatch.setenv("BILLING_ENCRYPTION_KEYS", ring_setting(("b", KEY_B)))
    assert cli.main(["keys", "check"]) == 0
    assert "every row decrypts" in capsys.readouterr().out
    monkeypatch.setenv("BILLING_ENCRYPTION_KEYS", ring_setting(("c", KEY_A)))
    monkeypatch.setenv("BILLING_ENCRYPTION_KEY_ID", "c")
    assert cli.main(["keys", "check"]) == 1
    assert f"{tenant}/pm_1" in capsys.readouterr().out
    engine.dispose()
