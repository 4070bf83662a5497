"""The dashboard as central serves it: pages, static files, headers; and its files checked as text.

The browser tier (tests/browser) drives the pages in Chromium; these checks run everywhere, fast:
the security headers, that nothing escapes ``/static``, that every HTML file is free of inline
script and style, that every module imports only files that exist, and that no module builds
markup from strings.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from central.web import CONTENT_SECURITY_POLICY, STATIC_DIR
from tests.support.central import asgi_target, sqlite_url

HTML_FILES = sorted(STATIC_DIR.glob("*.html"))
OUR_MODULES = sorted(p for p in STATIC_DIR.rglob("*.js") if "vendor" not in p.parts)
# Markup from strings is how data turns into script; the modules build nodes with textContent.
FORBIDDEN_JS = re.compile(
    r"\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*['\"]style"
)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_target(sqlite_url(tmp_path), "nobody") as target:
        yield target.client


@pytest.mark.parametrize("path", ["/", "/login", "/static/js/app.js", "/static/css/app.css"])
async def test_dashboard_responses_carry_the_security_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-cache"


async def test_pages_and_modules_have_their_content_types(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/js/app.js">' in page.text
    module = await client.get("/static/js/app.js")
    assert module.headers["content-type"].startswith("text/javascript")
    login = await client.get("/login")
    assert 'method="post"' in login.text  # a password never travels in a URL


def test_the_policy_allows_this_origin_only_and_no_inline_code() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert "http" not in CONTENT_SECURITY_POLICY  # no third-party origin


async def test_the_api_keeps_its_own_headers(client: httpx.AsyncClient) -> None:
    # Swagger UI needs inline script: the dashboard's policy must not break the API docs.
    docs = await client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "content-security-policy" not in docs.headers
    health = await client.get("/healthz")
    assert "content-security-policy" not in health.headers


@pytest.mark.parametrize(
    "path",
    [
        "/static/../main.py",
        "/static/%2e%2e/main.py",
        "/static/..%2fmain.py",
        "/static/nothing.js",
        "/static/vendor/../../web/pages.py",
    ],
)
async def test_nothing_outside_static_is_served(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert "create_app" not in r.text
    assert "install_dashboard" not in r.text


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>: inline event handler")
            if name == "style":
                self.problems.append(f"<{tag} style=...>: inline style")
        if tag == "style":
            self.problems.append("<style>: inline style sheet")
        if tag == "script" and not named.get("src"):
            self.problems.append("<script> without src: inline script")
        for name in ("src", "href"):
            value = named.get(name)
            if not value:
                continue
            if value.startswith("/static/"):
                self.references.append(value)
            elif name == "src" or "//" in value:
                self.problems.append(f"<{tag} {name}={value!r}>: not from /static")


@pytest.mark.parametrize("page", HTML_FILES, ids=lambda p: p.name)
def test_html_has_no_inline_code_and_only_local_references(page: Path) -> None:
    markup = _Markup()
    markup.feed(page.read_text(encoding="utf-8"))
    assert markup.problems == []
    missing = [
        ref
        for ref in markup.references
        if not (STATIC_DIR / ref.removeprefix("/static/")).is_file()
    ]
    assert missing == []


@pytest.mark.parametrize("module", OUR_MODULES, ids=lambda p: str(p.relative_to(STATIC_DIR)))
def test_modules_import_existing_files_and_build_no_markup_from_strings(module: Path) -> None:
    text = module.read_text(encoding="utf-8")
    imports = re.findall(r"^import\s.*?from\s+\"([^\"]+)\";", text, flags=re.M | re.S)
    imports += re.findall(r"^import\s+\"([^\"]+)\";", text, flags=re.M)
    for spec in imports:
        assert spec.startswith("."), f"{module.name}: import {spec!r} is not a relative file"
        assert (module.parent / spec).resolve().is_file(), f"{module.name}: {spec} does not exist"
    bad = [m.group(0) for m in FORBIDDEN_JS.finditer(text)]
    assert bad == [], f"{module.name} uses {bad}"
    assert not re.search(r"https?://", text), f"{module.name} names an origin"


def test_vendored_files_are_recorded_with_their_version_and_licence() -> None:
    readme = (STATIC_DIR / "vendor" / "README.md").read_text(encoding="utf-8")
    for path in (STATIC_DIR / "vendor").rglob("*"):
        if path.is_file() and path.name != "README.md":
            assert path.name in readme, f"{path.relative_to(STATIC_DIR)} is not recorded"
    for library in (p for p in (STATIC_DIR / "vendor").iterdir() if p.is_dir()):
        assert (library / "LICENSE").is_file(), f"{library.name} has no LICENSE"
    assert "1.6.32" in readme
    bundle = (STATIC_DIR / "vendor/uplot/uPlot.esm.js").read_text(encoding="utf-8")
    version = re.search(r"github\.com/leeoniya/uPlot \(v([\d.]+)\)", bundle)
    assert version is not None
    assert version.group(1) == "1.6.32"
