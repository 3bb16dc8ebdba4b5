"""Proofs as QR codes: one binary QR code (up to version 40, error correction L) holds a bundle of at most
2,953 bytes, printed on a certificate or shown on a screen. Writing uses segno, reading zxing-cpp with
Pillow; both load only when a QR code is asked for, so a verifier without them can still check a file."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from chainnode.errors import ChainError

MAX_QR_BYTES: Final = 2953
"""Binary capacity of a version 40 QR code at error correction level L (ISO/IEC 18004)."""


class QrError(ChainError):
    code = "qr_error"


def write_qr(path: Path, data: bytes, *, scale: int = 4) -> int:
    """Write `data` as one binary QR code in a PNG (or SVG, by the file's suffix); return its version.

    Raises QrError if the data does not fit one code or the file cannot be written."""
    if len(data) > MAX_QR_BYTES:
        raise QrError(f"the proof is {len(data)} bytes and one QR code holds at most {MAX_QR_BYTES}; save it as a "
                      "file (--proof-out), or ask for a proof from a newer trust root (--trust)")
    import segno

    code = segno.make(data, error="l", mode="byte", micro=False, boost_error=False)
    try:
        code.save(str(path), scale=scale, border=4)
    except OSError as exc:
        raise QrError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return int(code.version)


def read_qr(path: Path) -> bytes:
    """The bytes of the one QR code in an image file. Raises QrError naming what is wrong."""
    try:
        import zxingcpp
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise QrError(f"reading QR codes needs zxing-cpp and Pillow: {exc}") from exc
    try:
        with Image.open(path) as image:
            qr_only = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
            found = zxingcpp.read_barcodes(image.convert("L"), formats=qr_only)
    except FileNotFoundError as exc:
        raise QrError(f"QR image {path} does not exist") from exc
    except UnidentifiedImageError as exc:
        raise QrError(f"{path} is not an image Pillow can read") from exc
    except Image.DecompressionBombError as exc:
        raise QrError(f"{path} is too large an image for a QR code ({exc}); scan it at a lower resolution") from exc
    except OSError as exc:
        raise QrError(f"QR image {path} cannot be read: {exc.strerror or exc}") from exc
    if not found:
        raise QrError(f"no QR code was found in {path}; scan it again, sharper and whole")
    if len(found) > 1:
        raise QrError(f"{path} holds {len(found)} QR codes; crop it to the proof's")
    return bytes(found[0].bytes)
