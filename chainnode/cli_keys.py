"""`chainnode key encrypt|decrypt|rotate-passphrase FILE`: protect key files with a passphrase.

Each command replaces the file atomically (a new 0600 file beside it, synced, renamed over it), so a crash
leaves the old file or the new one, never half of either. Passphrases come from chainnode.keyfile's sources,
never from the command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chainnode import crypto, keyfile
from chainnode.cli import UsageError, _path, emit


def _passphrase(args: argparse.Namespace) -> keyfile.PassphraseSource:
    return keyfile.get_passphrase_source(fd=args.passphrase_fd)


def cmd_key_encrypt(args: argparse.Namespace) -> int:
    limits = crypto.KDF_PROFILES[args.kdf]
    source = keyfile.get_passphrase_source(fd=args.passphrase_fd, confirm=True)  # a typo must not lock a key away
    keyfile.encrypt_key_file(args.file, source, limits)
    emit(args, {"key_file": str(args.file), "encrypted": True, "kdf": args.kdf,
                "opslimit": limits.opslimit, "memlimit": limits.memlimit}, [
        f"encrypted {args.file} (Argon2id {args.kdf}: opslimit {limits.opslimit}, memlimit {limits.memlimit})",
        "the node asks for the passphrase at start: --passphrase-fd N, $CHAINNODE_KEY_PASSPHRASE, the systemd "
        "credential chainnode-key-passphrase, or a prompt",
    ])
    return 0


def cmd_key_decrypt(args: argparse.Namespace) -> int:
    keyfile.decrypt_key_file(args.file, _passphrase(args))
    emit(args, {"key_file": str(args.file), "encrypted": False}, [
        f"decrypted {args.file}: it now holds the key in plain text (mode 0600)",
    ])
    return 0


def cmd_key_rotate(args: argparse.Namespace) -> int:
    new = keyfile.get_new_passphrase_source(fd=args.new_passphrase_fd)
    limits = keyfile.rotate_passphrase(args.file, _passphrase(args), new,
                                       crypto.KDF_PROFILES[args.kdf] if args.kdf else None)
    emit(args, {"key_file": str(args.file), "encrypted": True, "opslimit": limits.opslimit,
                "memlimit": limits.memlimit}, [
        f"re-encrypted {args.file} under the new passphrase (new salt and nonce)",
        "update every place the node reads the passphrase from (credential file, service environment)",
    ])
    return 0


def _fd(text: str) -> int:
    try:
        fd = int(text, 10)
    except ValueError:
        fd = -1
    if fd < 0 or not text.isascii():
        raise argparse.ArgumentTypeError(f"{text!r} is not a file descriptor number")
    return fd


def add_passphrase_fd(p: argparse.ArgumentParser) -> None:
    p.add_argument("--passphrase-fd", type=_fd, metavar="N",
                   help=f"read the key passphrase from file descriptor N (else ${keyfile.PASSPHRASE_ENV}, "
                        f"$CREDENTIALS_DIRECTORY/{keyfile.CREDENTIAL_NAME}, or a prompt on a terminal)")


def add_encrypt_keys_options(p: argparse.ArgumentParser) -> None:
    """`--encrypt-keys` (with `--passphrase-fd` and `--kdf`) for the commands that create key files."""
    p.add_argument("--encrypt-keys", action="store_true",
                   help="write the new key files encrypted under one passphrase (asked twice on a terminal)")
    add_passphrase_fd(p)
    p.add_argument("--kdf", choices=sorted(crypto.KDF_PROFILES), default=keyfile.DEFAULT_KDF_PROFILE,
                   help=f"Argon2id cost with --encrypt-keys (default {keyfile.DEFAULT_KDF_PROFILE})")


def get_protector(args: argparse.Namespace, asked_for: Path) -> crypto.KeyProtector | None:
    """The protector `--encrypt-keys` asks for, its passphrase read now (before anything is written)."""
    if not args.encrypt_keys:
        if args.passphrase_fd is not None:
            raise UsageError("--passphrase-fd is for --encrypt-keys; add --encrypt-keys or leave it out")
        return None
    source = keyfile.get_passphrase_source(fd=args.passphrase_fd, confirm=True)
    return keyfile.get_protector(source, crypto.KDF_PROFILES[args.kdf], asked_for=asked_for)


def describe_protection(args: argparse.Namespace) -> str:
    """One line on how the new key files are kept, for the command's output."""
    if args.encrypt_keys:
        return (f"key files are encrypted (Argon2id {args.kdf}); the node asks for the passphrase at start: "
                "--passphrase-fd N, $CHAINNODE_KEY_PASSPHRASE, the systemd credential chainnode-key-passphrase, "
                "or a prompt")
    return ("key files are NOT encrypted (mode 0600 only); before production run chainnode key encrypt on each, "
            "or create them with --encrypt-keys")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    key_parser = sub.add_parser("key", help="encrypt, decrypt or re-key a key file with a passphrase")
    key_sub = key_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    profiles = sorted(crypto.KDF_PROFILES)

    p = key_sub.add_parser("encrypt", parents=[common], help="encrypt a plain key file with a passphrase")
    p.add_argument("file", type=_path, metavar="FILE")
    add_passphrase_fd(p)
    p.add_argument("--kdf", choices=profiles, default=keyfile.DEFAULT_KDF_PROFILE,
                   help=f"Argon2id cost (default {keyfile.DEFAULT_KDF_PROFILE})")
    p.set_defaults(run=cmd_key_encrypt)

    p = key_sub.add_parser("decrypt", parents=[common], help="turn an encrypted key file back into a plain one")
    p.add_argument("file", type=_path, metavar="FILE")
    add_passphrase_fd(p)
    p.set_defaults(run=cmd_key_decrypt)

    p = key_sub.add_parser("rotate-passphrase", parents=[common], help="re-encrypt a key file under a new passphrase")
    p.add_argument("file", type=_path, metavar="FILE")
    add_passphrase_fd(p)
    p.add_argument("--new-passphrase-fd", type=_fd, metavar="M",
                   help=f"read the new passphrase from file descriptor M (else ${keyfile.NEW_PASSPHRASE_ENV}, "
                        "or a prompt on a terminal, asked twice)")
    p.add_argument("--kdf", choices=profiles, help="a new Argon2id cost (default: keep the file's)")
    p.set_defaults(run=cmd_key_rotate)

