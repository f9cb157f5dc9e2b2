"""One page in one fresh tab: load it, listen to what goes wrong until it is quiet (exceptions,
console errors, failed or remote requests, HTTP errors), then read its final DOM (images that
do not display, the links and ids JavaScript added), after running the book's search if asked."""

import json
import queue
import time
import urllib.parse

from .devtools import CdpError

PAGE_SCRIPT = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const images = Array.from(document.images);
  for (const img of images) { if (img.loading === 'lazy') img.loading = 'eager'; }
  const deadline = Date.now() + 5000;
  while (images.some(i => !i.complete) && Date.now() < deadline) await sleep(50);
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0))
                       .map(i => i.getAttribute('src') || i.currentSrc || '(no src)');
  const links = Array.from(document.querySelectorAll('a[href]'))
                     .map(a => [a.getAttribute('href'), a.href]);
  const ids = Array.from(document.querySelectorAll('[id]')).map(e => e.id)
                   .concat(Array.from(document.querySelectorAll('a[name]')).map(a => a.name));
  return JSON.stringify({broken, links, ids, url: location.href,
                         title: document.title, body: document.body ? document.body.innerText.length : 0});
})()
"""

# mdBook fills the results header ("N search results for ...", "No search results for ...")
# once the index is loaded and the search ran.
SEARCH_STATE_SCRIPT = """JSON.stringify([
  (document.getElementById('mdbook-searchresults-header') || {}).innerText || '',
  document.querySelectorAll('#mdbook-searchresults li').length])"""

LOCAL_SCHEMES = ("file", "data", "blob", "about", "chrome", "devtools", "chrome-extension")


def shorten(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def unasked_favicon(url, origin):
    """Chromium asks for /favicon.ico by itself on pages without <link rel=icon> (toc.html)."""
    return url == origin + "favicon.ico"


def visit(browser, url, origin, settle, page_timeout, search=False):
    """Load `url` in a fresh tab; return (problems, dom): problems are messages or
    (message, detail) pairs (the detail differs between file:// and http), dom is
    PAGE_SCRIPT's result."""
    problems = []
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = None
    try:
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        events = browser.events(session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session=session)
        nav = browser.call("Page.navigate", {"url": url}, session=session)
        if nav.get("errorText"):
            return [f"cannot open the page: {nav['errorText']}"], None
        requests, inflight, failed_urls = {}, set(), set()
        loaded_at, last_activity = None, time.monotonic()
        start = time.monotonic()
        while True:
            now = time.monotonic()
            if loaded_at is not None and not inflight and now - last_activity >= settle \
                    and now - loaded_at >= settle:
                break
            if now - start > page_timeout:
                if loaded_at is None:
                    problems.append(f"did not finish loading within {page_timeout:.0f} s "
                                    "(no load event: a script that never ends? a stuck request?)")
                    return problems, None
                else:
                    pending = ", ".join(sorted(requests.get(r, r) for r in inflight)[:3])
                    problems.append(f"requests still pending after {page_timeout:.0f} s: {pending}")
                break
            try:
                ev = events.get(timeout=0.05)
            except queue.Empty:
                continue
            if ev is None:
                problems.append("the browser went away")
                return problems, None
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Page.loadEventFired":
                loaded_at = last_activity = time.monotonic()
            elif method == "Network.requestWillBeSent":
                req_url = p["request"]["url"]
                requests[p["requestId"]] = req_url
                inflight.add(p["requestId"])
                last_activity = time.monotonic()
                scheme = urllib.parse.urlsplit(req_url).scheme
                if scheme not in LOCAL_SCHEMES and not req_url.startswith(origin):
                    failed_urls.add(req_url)  # reported here, not again when it fails
                    problems.append(f"loads {shorten(req_url, 120)} from the network "
                                    "(the book must work offline)")
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                inflight.discard(p["requestId"])
                last_activity = time.monotonic()
                if method == "Network.loadingFailed" and not p.get("canceled"):
                    req_url = requests.get(p["requestId"], "?")
                    if req_url not in failed_urls and not unasked_favicon(req_url, origin):
                        failed_urls.add(req_url)
                        reason = p.get("errorText", "")
                        if p.get("blockedReason"):
                            reason += ", " + p["blockedReason"]
                        problems.append((f"failed to load {req_url}", reason))
            elif method == "Network.responseReceived":
                status = p["response"].get("status", 0)
                res_url = p["response"]["url"]
                if status >= 400 and res_url not in failed_urls \
                        and not unasked_favicon(res_url, origin):
                    failed_urls.add(res_url)
                    problems.append((f"failed to load {res_url}", f"HTTP {status}"))
            elif method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                text = d.get("text") or "Uncaught"  # "Uncaught" or "Uncaught (in promise)"
                desc = ((d.get("exception") or {}).get("description") or "").strip()
                desc = desc.splitlines()[0] if desc else ""
                message = desc if desc.startswith(text) else f"{text} {desc}".strip()
                at = f" at {d.get('url', '')}:{d.get('lineNumber', 0) + 1}" if d.get("url") else ""
                problems.append(f"JavaScript error: {shorten(message)}{at}")
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                problems.append(f"console.{p['type']}: {shorten(args)}")
            elif method == "Log.entryAdded":
                entry = p["entry"]
                if entry.get("level") == "error" and entry.get("source") != "network":
                    problems.append(f"browser error ({entry.get('source')}): {shorten(entry.get('text'))}"
                                    f"{' at ' + entry['url'] if entry.get('url') else ''}")
            elif method == "Inspector.targetCrashed":
                problems.append("the page crashed")
                return problems, None
        try:
            more, dom = inspect(browser, session, search, page_timeout, failed_urls)
            return problems + more, dom
        except CdpError as err:
            return problems + [f"browser protocol error: {err}"], None
    finally:
        if session:
            browser.drop_session(session)
        try:
            browser.call("Target.closeTarget", {"targetId": target}, timeout=5)
        except CdpError:
            pass


def inspect(browser, session, search, page_timeout, failed_urls):
    """The loaded page: run the search if asked, then PAGE_SCRIPT; (problems, dom)."""
    problems, count = [], 0
    if search:
        header, deadline = "", time.monotonic() + page_timeout
        while time.monotonic() < deadline:
            header, count = json.loads(browser.call(
                "Runtime.evaluate", {"expression": SEARCH_STATE_SCRIPT, "returnByValue": True},
                session=session)["result"]["value"])
            if header.strip() or count:
                break
            time.sleep(0.1)
        else:
            problems.append(f"the search did not run within {page_timeout:.0f} s "
                            "(index not loaded?)")
    result = browser.call("Runtime.evaluate", {"expression": PAGE_SCRIPT, "awaitPromise": True,
                                               "returnByValue": True}, session=session)
    if "exceptionDetails" in result:
        problems.append(f"the checker's own script failed: {result['exceptionDetails'].get('text')}")
        return problems, None
    dom = json.loads(result["result"]["value"])
    for src in dom["broken"]:
        absolute = urllib.parse.urljoin(dom["url"], src)
        if absolute not in failed_urls:
            problems.append(f"image does not display: {src}")
    if search:
        dom["search_results"] = count
    return problems, dom
