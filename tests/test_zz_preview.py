from .browser_support import browser, log_in, server  # noqa
from .dashboard_support import accounts, fast_passwords  # noqa
from .test_dashboard_pages_browser import world  # noqa

def test_preview(app, browser, server, world):
    for width in (1366, 390):
        context = browser.new_context(base_url=server, viewport={"width": width, "height": 900})
        page = context.new_page()
        log_in(page, "admin@example.org")
        page.goto("/dashboard/statistics")
        h = page.evaluate("document.scrollingElement.scrollHeight")
        for n, top in enumerate(range(0, h, 900)):
            page.screenshot(path=f"/tmp/stats/prev_{width}_{n}.png", clip={"x": 0, "y": top, "width": width, "height": 900}, full_page=True)
        context.close()
