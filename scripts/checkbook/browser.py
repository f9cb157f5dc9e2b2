"""Part 3, --browser: every rendered page in headless Chromium, from disk (file://) and from a
throw-away local HTTP server, plus the book's search; the links JavaScript adds are resolved
like the static ones (rendered.py)."""

import concurrent.futures
import functools
import http.server
import re
import threading
import time
import urllib.parse

from .devtools import CdpError, Chromium
from .visit import visit


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def start_server(directory):
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def search_term(book):
    """A word from the first chapter's title: the search must find it."""
    for page in ["index.html"] + book.html_pages():
        text = (book.out / page).read_text(encoding="utf-8", errors="replace")
        m = re.search(r"<main>.*?<h1[^>]*>(.*?)</h1>", text, re.S)
        if m:
            words = re.findall(r"[A-Za-z]{4,}", re.sub(r"<[^>]+>", " ", m.group(1)))
            if words:
                return words[0].lower()
    return None


def check_browser(report, book, chromium, modes, jobs, settle, page_timeout, term, verbose):
    pages = book.html_pages()
    if not pages:
        return
    browser = Chromium(chromium, timeout=page_timeout + 10)
    server = start_server(book.out) if "http" in modes else None
    found = {}  # (page, message) -> [modes]
    doms = []
    try:
        tasks = []
        for mode in modes:
            if mode == "file":
                origin = book.out.as_uri() + "/"
            else:
                origin = f"http://127.0.0.1:{server.server_address[1]}/"
            for page in pages:
                if mode == "file" and book.page(page).base is not None:
                    continue  # 404.html: its <base href="/"> is for a web server
                tasks.append((mode, origin, page, origin + urllib.parse.quote(page), False))
            if term:
                tasks.append((mode, origin, "index.html",
                              origin + "index.html?search=" + urllib.parse.quote(term), True))

        def run(task):
            mode, origin, page, url, search = task
            started = time.monotonic()
            try:
                result = visit(browser, url, origin, settle, page_timeout, search)
            except CdpError as err:
                result = ([f"browser protocol error: {err}"], None)
            return task, result, time.monotonic() - started

        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            for (mode, origin, page, url, search), (problems, dom), secs in pool.map(run, tasks):
                if verbose:
                    print(f"   {secs:5.2f} s  {mode:4}  {url[len(origin):]}", flush=True)
                label = f"{page}?search={term}" if search else page
                for msg in problems:
                    msg, detail = msg if isinstance(msg, tuple) else (msg, None)
                    entry = f"{mode}: {detail}" if detail else mode
                    found.setdefault((label, msg.replace(origin, "")), []).append(entry)
                if dom is not None:
                    doms.append((mode, origin, page, dom))
                    if search and not dom.get("search_results"):
                        found.setdefault((label, f"the search for '{term}' shows no result"),
                                         []).append(mode)
        for mode, origin, page, dom in doms:
            book.dom_ids.setdefault(page, set()).update(dom["ids"])
        for mode, origin, page, dom in doms:
            static = {value for _, tag, _, value in book.page(page).refs if tag == "a"}
            for raw, absolute in dom["links"]:
                if raw in static:
                    continue  # already checked in the static pass
                if absolute.startswith(origin):
                    # Root-relative in the book: resolve from the top-level index.html.
                    status, detail = book.resolve("index.html", absolute[len(origin):])
                    if status == "broken":
                        found.setdefault((page, f"broken link (added by JavaScript) {detail}"),
                                         []).append(mode)
    finally:
        if server:
            server.shutdown()
            server.server_close()
        tail = browser.stderr_tail() if browser.proc.poll() not in (None, 0) else []
        browser.close()
        if tail:
            report.note("chromium stderr (last lines):\n    " + "\n    ".join(tail))
    for (page, msg), in_modes in sorted(found.items(), key=lambda item: item[0][0]):
        in_modes = list(dict.fromkeys(in_modes))
        suffix = f" [{'; '.join(in_modes)}]" if len(modes) > 1 or ":" in in_modes[0] else ""
        report.problem("browser", page, msg + suffix)
