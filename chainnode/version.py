"""What `chainnode --version` prints: the package's version and the versions of the formats it reads and writes.

An operator upgrading a node compares these: a new store format means the upgrade migrates or refuses the
old store (docs/storage.md), a new wire version means the nodes of a network upgrade together.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence
from typing import Any

PACKAGE = "chainnode"


def get_package_version() -> str:
    """The installed distribution's version, or "unknown" when run from a source tree that was not installed."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def get_format_versions() -> dict[str, str]:
    """The format versions this build speaks, by name, from the constants that define them."""
    from chainnode import crypto, store, wal
    from network import frames

    return {
        "store": store.FORMAT_VERSION.decode("ascii"),
        "wire": str(frames.VERSION),
        "wal": str(wal.WAL_VERSION),
        "encrypted key file": str(crypto.ENCRYPTED_KEY_FILE_VERSION),
    }


def get_version_text() -> str:
    formats = ", ".join(f"{name} {value}" for name, value in get_format_versions().items())
    python = ".".join(map(str, sys.version_info[:3]))
    return f"chainnode {get_package_version()} (formats: {formats}; Python {python})"


class VersionAction(argparse.Action):
    """`--version`: print the version text and exit 0; the format modules load only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(get_version_text())
        parser.exit(0)
