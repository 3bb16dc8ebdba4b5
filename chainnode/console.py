"""The web console: static pages (chainnode/web) that every node serves under /console/ and that read the
public /v1 API, and the single-file certificate check built from the same sources.

Files are read once into memory from the package and served from a fixed table, so no request path reaches
the file system. Every console answer carries a Content-Security-Policy that allows only the node's own
scripts, styles and API; the single file carries its own policy, pinned to the hashes of its inline script
and style, and reaches no network at all. `python -m chainnode.console OUT` (what scripts/build-web runs)
writes the single file; docs/console.md describes the pages.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web

WEB_DIR: Final = Path(__file__).resolve().parent / "web"
PREFIX: Final = "/console/"
STANDALONE: Final = "verify-standalone.html"
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
PAGE_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
WASM_PAGES: Final = frozenset({"index.html", "staff.html", "audit.html", "supervision.html", "documents.html"})
"""Pages that open encrypted key files. Argon2id runs as WebAssembly in a worker of their own origin
(WASM_WORKERS), so their policy adds only `worker-src 'self'`: the pages themselves compile no WebAssembly."""
KEY_PAGE_POLICY: Final = PAGE_POLICY + "; worker-src 'self'"
WASM_WORKERS: Final = frozenset({"js/member/argon2-worker.js"})
"""Worker scripts that run Argon2id: a worker's own policy comes with its script, and theirs adds
'wasm-unsafe-eval', which lets the worker compile WebAssembly and nothing more (no eval of script text)."""
SODIUM_PAGES: Final = frozenset({"documents.html"})
"""Key pages that also run libsodium (sealed boxes, secretstream) as WebAssembly on the page itself: their policy
adds 'wasm-unsafe-eval' as well."""
WASM_PAGE_POLICY: Final = PAGE_POLICY.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", 1)
SODIUM_PAGE_POLICY: Final = WASM_PAGE_POLICY + "; worker-src 'self'"
COMMON_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_IMPORT: Final = re.compile(r'^import \{([^}]*)\} from "\./([a-z0-9_-]+\.js)";\n', re.M)
_EXPORT: Final = re.compile(r"^export (?:async function|function|class|const|let) ([A-Za-z_$][\w$]*)", re.M)


class ConsoleBuildError(Exception):
    """The web sources cannot be assembled (a module form the bundler does not take): our own bug."""


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    policy: str
    etag: str


# --- the single file ----------------------------------------------------------------------------------


def _module_name(file_name: str) -> str:
    return "__module_" + re.sub(r"\W", "_", file_name.removesuffix(".js"))


def bundle_modules(entry: str, web_dir: Path = WEB_DIR) -> str:
    """The ES modules reachable from `entry` (a file in web/js) as one script: each module becomes a function
    scope returning its exports, and each `import { a, b } from "./m.js"` a destructuring of that module.
    Raises ConsoleBuildError for an import or export form this does not handle."""
    order: list[str] = []
    sources: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise ConsoleBuildError(f"import cycle: {' -> '.join((*path, name))}")
        if name in sources:
            return
        text = (web_dir / "js" / name).read_text(encoding="utf-8")
        sources[name] = text
        for match in _IMPORT.finditer(text):
            visit(match.group(2), (*path, name))
        order.append(name)

    visit(entry, ())
    parts = []
    for name in order:
        text = sources[name]

        def imported(match: re.Match[str]) -> str:
            names = ", ".join(n.strip().replace(" as ", ": ") for n in match.group(1).split(",") if n.strip())
            return f"const {{ {names} }} = {_module_name(match.group(2))};\n"

        body = _IMPORT.sub(imported, text)
        exports = _EXPORT.findall(body)
        body = _EXPORT.sub(lambda m: m.group(0).removeprefix("export "), body)
        if re.search(r"^\s*(import|export)\b", body, re.M):
            raise ConsoleBuildError(f"{name}: an import or export the bundler does not handle")
        scope = f"const {_module_name(name)} = (() => {{\n{body}\nreturn {{ {', '.join(exports)} }};\n}})();\n"
        parts.append(f"// --- {name}\n{scope}")
    return "".join(parts)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _inline(text: str) -> str:
    """Script or style text that cannot close its element early."""
    if re.search(r"</(script|style)", text, re.I):
        raise ConsoleBuildError("an inline script or style holds a closing tag")
    return text


def build_standalone(web_dir: Path = WEB_DIR) -> tuple[str, str]:
    """The certificate check page as one self-contained HTML file, and its Content-Security-Policy (also
    inside the file, so it holds when the file is opened from disk). Raises ConsoleBuildError."""
    page = (web_dir / "verify.html").read_text(encoding="utf-8")
    style = _inline((web_dir / "css" / "console.css").read_text(encoding="utf-8"))
    qr = _inline((web_dir / "vendor" / "jsQR.js").read_text(encoding="utf-8"))
    script = _inline(bundle_modules("verify-page.js", web_dir))
    policy = (
        f"default-src 'none'; script-src {_csp_hash(qr)} {_csp_hash(script)}; style-src {_csp_hash(style)}; "
        "img-src data: blob:; connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"
    )
    replacements = {
        '<link rel="stylesheet" href="css/console.css">': f"<style>{style}</style>",
        '<script src="vendor/jsQR.js"></script>': f"<script>{qr}</script>",
        '<script type="module" src="js/verify-page.js"></script>': f'<script type="module">{script}</script>',
        '<html lang="zh-CN">': '<html lang="zh-CN" data-standalone="1">',
        '<meta charset="utf-8">':
            f'<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="{policy}">',
    }
    for old, new in replacements.items():
        if page.count(old) != 1:
            raise ConsoleBuildError(f"verify.html does not hold exactly one {old!r}")
        page = page.replace(old, new)
    return page, policy


# --- serving ------------------------------------------------------------------------------------------


def load_assets(web_dir: Path = WEB_DIR) -> dict[str, Asset]:
    """Every servable file of the console by its path under /console/, read once, and the single file."""
    assets: dict[str, Asset] = {}

    def add(name: str, body: bytes, content_type: str, policy: str) -> None:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[name] = Asset(body=body, content_type=content_type, policy=policy, etag=etag)

    for path in sorted(web_dir.rglob("*")):
        content_type = CONTENT_TYPES.get(path.suffix)
        if path.is_file() and content_type is not None:
            name = path.relative_to(web_dir).as_posix()
            policy = PAGE_POLICY
            if name in SODIUM_PAGES:
                policy = SODIUM_PAGE_POLICY
            elif name in WASM_PAGES:
                policy = KEY_PAGE_POLICY
            elif name in WASM_WORKERS:
                policy = WASM_PAGE_POLICY
            add(name, path.read_bytes(), content_type, policy)
    page, policy = build_standalone(web_dir)
    add(STANDALONE, page.encode(), CONTENT_TYPES[".html"], policy)
    assets[""] = assets["index.html"]
    return assets


ASSETS: Final = web.AppKey("console_assets", dict[str, Asset])


async def serve_asset(request: web.Request) -> web.StreamResponse:
    asset = request.app[ASSETS].get(request.match_info["name"])
    if asset is None:
        raise web.HTTPNotFound()
    headers = {**COMMON_HEADERS, "Content-Security-Policy": asset.policy, "ETag": asset.etag}
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.body, headers={**headers, "Content-Type": asset.content_type})


async def redirect_to_console(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(PREFIX, headers=COMMON_HEADERS)


def add_routes(app: web.Application) -> None:
    """Mount the console: `/` redirects to `/console/`, whose pages use the /v1 API of the same node."""
    app[ASSETS] = load_assets()
    app.router.add_get("/", redirect_to_console)
    app.router.add_get(PREFIX + "{name:.*}", serve_asset)


def main(argv: list[str]) -> int:
    """`python -m chainnode.console OUT.html`: write the single-file certificate check."""
    if len(argv) != 1:
        print("usage: python -m chainnode.console OUT.html", file=sys.stderr)
        return 2
    page, _ = build_standalone()
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"wrote {out} ({len(page.encode()):,} bytes): open it in a browser, no node needed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
