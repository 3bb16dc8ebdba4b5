"""The console's server side (chainnode/console.py): pages from a fixed table with their security headers,
/ redirecting to them, and the single file assembled from the same sources with a policy pinned to its
inline code."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from chainnode import console


async def serve() -> TestClient[web.Request, web.Application]:
    app = web.Application()
    console.add_routes(app)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def test_pages_are_served_with_a_content_security_policy() -> None:
    client = await serve()
    try:
        answer = await client.get("/", allow_redirects=False)
        assert answer.status == 302 and answer.headers["Location"] == "/console/"
        for path, kind in (("/console/", "text/html"), ("/console/verify.html", "text/html"),
                           ("/console/js/verifier.js", "text/javascript"), ("/console/css/console.css", "text/css"),
                           ("/console/verify-standalone.html", "text/html")):
            answer = await client.get(path)
            assert answer.status == 200 and answer.content_type == kind, path
            policy = answer.headers["Content-Security-Policy"]
            assert policy.startswith("default-src 'none'")
            # the explorer opens encrypted member key files, in a worker: no page may compile WebAssembly
            assert "unsafe" not in policy, path
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            assert answer.headers["X-Frame-Options"] == "DENY"
            again = await client.get(path, headers={"If-None-Match": answer.headers["ETag"]})
            assert again.status == 304
        for path in ("/console/../pyproject.toml", "/console/js/../../console.py", "/console/nothing.js",
                     "/console/%2e%2e/genesis.json"):
            assert (await client.get(path)).status == 404, path
    finally:
        await client.close()


def test_the_single_file_holds_everything_and_allows_only_its_own_code() -> None:
    page, policy = console.build_standalone()
    assert 'src="' not in page and 'href="css' not in page and "import {" not in page
    assert "connect-src 'none'" in policy and f'content="{policy}"' in page
    allowed = set(re.findall(r"'sha256-([^']+)'", policy))
    inline = re.findall(r"<(script|style)[^>]*>(.*?)</\1>", page, re.S)
    assert len(inline) == 3
    for _, text in inline:
        assert base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() in allowed


def test_a_module_form_the_bundler_does_not_take_is_refused(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.js").write_text('import * as b from "./b.js";\nexport default 1;\n')
    with pytest.raises(console.ConsoleBuildError):
        console.bundle_modules("a.js", tmp_path)
    (tmp_path / "js" / "c.js").write_text('import { d } from "./d.js";\nexport const c = 1;\n')
    (tmp_path / "js" / "d.js").write_text('import { c } from "./c.js";\nexport const d = 2;\n')
    with pytest.raises(console.ConsoleBuildError, match="cycle"):
        console.bundle_modules("c.js", tmp_path)
    (tmp_path / "js" / "e.js").write_text('import { f as g } from "./f.js";\nexport function e() { return g; }\n')
    (tmp_path / "js" / "f.js").write_text("export const f = 3;\n")
    bundled = console.bundle_modules("e.js", tmp_path)
    assert "const { f: g } = __module_f;" in bundled and "return { e };" in bundled


def test_every_page_has_the_same_navigation_and_marks_itself() -> None:
    link = re.compile(r'<a href="([^"]+)"([^>]*)>')
    pages = sorted(p for p in console.WEB_DIR.glob("*.html"))
    navs = {}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        nav = text[text.index('<nav class="nav"'):text.index("</nav>", text.index('<nav class="nav"'))]
        links = link.findall(nav)
        navs[page.name] = [href for href, _ in links]
        current = [href for href, attributes in links if 'aria-current="page"' in attributes]
        assert current == ["./" if page.name == "index.html" else page.name], page.name
    assert len(set(map(tuple, navs.values()))) == 1, navs
    assert {("./" if p.name == "index.html" else p.name) for p in pages} == set(next(iter(navs.values())))
