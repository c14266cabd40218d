"""Regenerate the Python and TypeScript clients from proto/ (run as `make proto`).

The proto package is `billing.v1`, but the server's import package is `billing`, so the
generated modules live in `billing_client.v1` and their imports are rewritten to match.
The TypeScript client's messages and service descriptors (clients/typescript/src/gen) are
made by buf with protoc-gen-es from clients/typescript/node_modules (`make install` runs
`npm ci` there), as clients/typescript/buf.gen.yaml says.
With `--check` nothing is written; the exit code says whether the checked-in code is stale.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"
TARGET = ROOT / "clients" / "python" / "src" / "billing_client" / "v1"
THIRD_PARTY = ROOT / "third_party" / "googleapis"
GOOGLE_PACKAGES = ("api", "rpc", "type")
TS_PACKAGE = ROOT / "clients" / "typescript"
TS_TARGET = TS_PACKAGE / "src" / "gen"
# Our protos, and the one googleapis file whose messages TypeScript callers read from errors.
TS_PATHS = ("proto/billing", "third_party/googleapis/google/rpc/error_details.proto")
IMPORT_RE = re.compile(r"^from billing\.v1 import", re.MULTILINE)


def googleapis_root() -> Path:
    import google.rpc  # from googleapis-common-protos

    return Path(next(iter(google.rpc.__path__))).parents[1]


def link_third_party() -> None:
    """Make third_party/googleapis/google/{api,rpc,type} point into the installed package."""
    source = googleapis_root() / "google"
    (THIRD_PARTY / "google").mkdir(parents=True, exist_ok=True)
    for name in GOOGLE_PACKAGES:
        link = THIRD_PARTY / "google" / name
        if link.is_symlink() or link.exists():
            if link.resolve() == (source / name).resolve():
                continue
            link.unlink()
        os.symlink(source / name, link)


def generate(out_dir: Path) -> None:
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    raw = out_dir / "raw"
    raw.mkdir()
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{googleapis_root()}",
        f"-I{Path(protoc.__file__).parent / '_proto'}",
        f"--python_out={raw}",
        f"--pyi_out={raw}",
        f"--grpc_python_out={raw}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    final = out_dir / "v1"
    final.mkdir()
    for path in sorted((raw / "billing" / "v1").iterdir()):
        text = IMPORT_RE.sub("from billing_client.v1 import", path.read_text())
        (final / path.name).write_text(text)
    (final / "__init__.py").write_text('"""Generated from proto/billing/v1 by `make proto`."""\n')


def generate_typescript(out_dir: Path) -> Path:
    """buf generate into out_dir (the template's `out` is relative to it); the gen tree."""
    if not (TS_PACKAGE / "node_modules" / ".bin" / "protoc-gen-es").exists():
        raise SystemExit("clients/typescript/node_modules is missing: run `make install`")
    buf = Path(sys.executable).parent / "buf"
    paths = [arg for path in TS_PATHS for arg in ("--path", path)]
    template = TS_PACKAGE / "buf.gen.yaml"
    subprocess.run(
        [str(buf), "generate", "--template", str(template), *paths, "-o", str(out_dir)],
        cwd=ROOT,
        check=True,
    )
    return out_dir / TS_TARGET.relative_to(ROOT)


def _tree(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the checked-in code is stale")
    parser.add_argument(
        "--link-only", action="store_true", help="only make the third_party links buf lint needs"
    )
    opts = parser.parse_args()
    link_third_party()
    if opts.link_only:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = Path(tmp) / "v1"
        fresh_ts = generate_typescript(Path(tmp) / "ts")
        if opts.check:
            if _tree(fresh_ts) != _tree(TS_TARGET):
                print("generated TypeScript client is stale (clients/typescript/src/gen)")
                print("run `make proto` and commit the result")
                return 1
            names = sorted(p.name for p in fresh.iterdir())
            current = sorted(p.name for p in TARGET.glob("*") if p.is_file())
            _, mismatch, errors = filecmp.cmpfiles(fresh, TARGET, names, shallow=False)
            if names != current or mismatch or errors:
                print(f"generated client is stale: {mismatch + errors or 'file set differs'}")
                print("run `make proto` and commit the result")
                return 1
            print("generated client is up to date")
            return 0
        if TARGET.exists():
            shutil.rmtree(TARGET)
        shutil.copytree(fresh, TARGET)
        if TS_TARGET.exists():
            shutil.rmtree(TS_TARGET)
        shutil.copytree(fresh_ts, TS_TARGET)
        print(f"wrote {TARGET.relative_to(ROOT)} and {TS_TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
