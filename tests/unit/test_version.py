"""`chainnode --version`: the installed version and the format versions, from the constants that define them."""

from __future__ import annotations

import importlib.metadata

import pytest

from chainnode import crypto, store, wal
from chainnode.cli import main
from chainnode.version import get_format_versions, get_version_text
from network import frames


def test_version_names_the_package_and_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out == get_version_text() + "\n"
    assert out.startswith(f"chainnode {importlib.metadata.version('chainnode')} ")
    assert get_format_versions() == {
        "store": store.FORMAT_VERSION.decode(),
        "wire": str(frames.VERSION),
        "wal": str(wal.WAL_VERSION),
        "encrypted key file": str(crypto.ENCRYPTED_KEY_FILE_VERSION),
    }


def test_the_package_metadata_has_a_licence_and_classifiers() -> None:
    metadata = importlib.metadata.metadata("chainnode")
    assert metadata["License-Expression"] == "Apache-2.0"
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in metadata.get_all("Classifier") or [])
