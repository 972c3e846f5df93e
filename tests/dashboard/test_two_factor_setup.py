"""Two-factor setup (issue 11 item 8): linked from the account menu, with a QR code drawn on the page."""

from __future__ import annotations

import html as html_lib
import re

import pyotp
import segno

from ..dashboard_support import post


def test_the_account_menu_links_to_two_factor_setup(operator):
    page = operator.get("/dashboard/").get_data(as_text=True)
    header = page.partition("<header")[2].partition("</header>")[0]
    assert 'href="/dashboard/account/2fa"' in header and "Set up two-factor sign-in" in header


def test_the_qr_code_holds_the_key_shown_and_is_drawn_inline(operator, clock):
    page = operator.get("/dashboard/account/2fa").get_data(as_text=True)
    secret = page.split('<code class="secret">', 1)[1].split("<", 1)[0]
    uri = html_lib.unescape(page.split('<code class="wrap">', 1)[1].split("<", 1)[0])
    assert pyotp.parse_uri(uri).secret == secret and "operator%40example.org" in uri
    svg = re.search(r'<svg[^>]*class="qr".*?</svg>', page, re.S).group(0)
    assert "<title>QR code to scan with an authenticator app</title>" in svg
    assert "viewBox=" in svg and "width=" not in svg.partition(">")[0]  # scales whole to the size the page gives
    drawn = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg).group(1)
    expected = re.search(r' d="([^"]+)"', segno.make(uri, error="m").svg_inline(lineclass=None, light=None)).group(1)
    assert drawn == expected  # the code encodes exactly the setup link the page shows
    assert "<img" not in page and "<script" not in page  # drawn here, nothing fetched or run

    response = post(operator, "/dashboard/account/2fa", {"code": pyotp.TOTP(secret).at(clock.now)},
                    token_from="/dashboard/account/2fa")
    assert response.status_code == 302
    header = operator.get("/dashboard/").get_data(as_text=True).partition("</header>")[0]
    assert "Two-factor sign-in: on" in header
