"""The view in a served page: URL parameters in and out, visible errors for bad ones, time zones on the axis,
the dark theme's contrast, a phone's width."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

import pytest

from ..support import poll
from .conftest import PLOT_STATE_JS, PageErrors

pytestmark = [pytest.mark.browser, pytest.mark.server]

#: The first figure's x range and the labels its time axis gives two ticks an hour apart.
AXIS_JS = """(ticks) => {
  for (const doc of Bokeh.documents) for (const m of doc.all_models) {
    if (m.type !== 'Figure' || !m.below.length) continue;
    const xr = m.x_range;
    return {start: xr.start, end: xr.end, labels: m.below[0].formatter.doFormat(ticks, {loc: 0}),
            background: m.background_fill_color, text: m.below[0].major_label_text_color,
            title: m.title.text_color};
  }
  return null;
}"""


def query(page) -> dict[str, str]:
    """The page's query parameters now (``page.url`` only follows while Playwright runs its own calls)."""
    return {k: v[0] for k, v in parse_qs(page.evaluate("() => location.search").lstrip("?")).items()}


def with_data(page) -> None:
    # (a deadline for a busy machine: CI runs this tier again with every core kept busy)
    poll(lambda: (s := page.evaluate(PLOT_STATE_JS)).get("CPU (all cores)") and s["CPU (all cores)"]["rows"] > 1,
         timeout=90, what="plots with data")


def test_every_view_parameter_round_trips_through_the_url(served, page):
    page.goto(served.url)
    with_data(page)
    # the held range starts once samples exist (the service starts with the first page, late on a busy machine)
    begin = int(time.time())
    poll(lambda: time.time() > begin + 4, timeout=10, what="a few seconds of data")
    end = int(time.time())
    page.goto(f"{served.url}?window=1h&from={begin}&to={end}&tz=Asia/Tokyo&theme=dark&keep=me")
    with_data(page)
    axis = poll(lambda: (a := page.evaluate(AXIS_JS, [0, 3600_000])) and a["start"] == begin * 1000 and a,
                timeout=10, what="the held range on the axis")
    assert axis["end"] == end * 1000
    assert axis["labels"][0].startswith("09:00"), "midnight UTC is 09:00 in Tokyo"
    assert page.locator(".dashboard-live button").is_visible(), "a held view offers the way back to live"
    assert page.locator(".dashboard-window select").input_value() == "3600.0" or \
        page.locator(".dashboard-window select").evaluate("e => e.selectedOptions[0].text") == "1 h"
    assert page.locator(".dashboard-timezone input").input_value() == "Asia/Tokyo"
    q = poll(lambda: (q := query(page)).get("from") and q, timeout=10, what="the view written back")
    assert q["window"] == "1h" and q["tz"] == "Asia/Tokyo" and q["theme"] == "dark" and q["live"] == "false"
    assert q["keep"] == "me", "parameters that are not the view's stay"
    assert q["from"].endswith("Z") and q["to"].endswith("Z")
    page.locator(".dashboard-live button").click()
    q = poll(lambda: "from" not in (q := query(page)) and q, timeout=10, what="live again in the URL")
    assert q["window"] == "1h" and "live" not in q
    page.locator(".dashboard-window select").select_option(label="5 min")
    poll(lambda: query(page).get("window") == "5m", timeout=10, what="the new window in the URL")
    assert page.errors.messages == []


def test_each_bad_parameter_shows_its_message_and_the_page_falls_back(served, page):
    page.goto(f"{served.url}?window=abc&from=yesterday&tz=Mars/Olympus&theme=neon&live=maybe")
    with_data(page)
    alerts = page.locator(".dashboard-url-error")
    poll(lambda: alerts.count() == 5, timeout=10, what="five messages")
    text = " ".join(alerts.evaluate_all("els => els.map(e => (e.shadowRoot ?? e).textContent)"))
    for name, expected in [("window", "5m, 1h or 7d"), ("from", "ISO 8601"), ("tz", "IANA time zone"),
                           ("theme", "light, dark or auto"), ("live", "true or false")]:
        assert f"URL parameter '{name}'" in text and expected in text
    assert page.locator(".dashboard-live button").is_hidden(), "the default, live view"
    assert page.errors.messages == []


def test_the_time_zone_box_applies_on_enter_and_on_leaving_it_and_refuses_an_unknown_zone(served, page):
    page.goto(served.url)
    with_data(page)
    box = page.locator(".dashboard-timezone input")
    warning = page.locator(".dashboard-timezone-error")
    box.fill("Mars/Olympus")
    box.press("Enter")
    poll(lambda: warning.is_visible(), timeout=10, what="the unknown zone's warning")
    text = warning.evaluate("e => (e.shadowRoot ?? e).textContent")
    assert "IANA time zone" in text and "Mars/Olympus" in text, "the URL's message, naming the zone"
    assert "tz" not in query(page) and box.input_value() == "", "the zone in use stays"
    box.fill("Asia/Tokyo")
    box.press("Escape")  # close the suggestions; the text stays typed
    page.locator(".dashboard-window select").focus()  # leave the box
    poll(lambda: query(page).get("tz") == "Asia/Tokyo", timeout=10, what="the zone applied on leaving the box")
    poll(lambda: warning.is_hidden(), timeout=10, what="the warning gone")
    box.fill("UTC")
    box.press("Enter")
    poll(lambda: query(page).get("tz") == "UTC", timeout=10, what="the zone applied on Enter")
    assert page.errors.messages == []


def test_the_time_zone_defaults_to_the_browser_s(served, browser):
    context = browser.new_context(timezone_id="America/New_York")
    page = context.new_page()
    try:
        page.goto(served.url)
        with_data(page)
        labels = page.evaluate(AXIS_JS, [0, 3600_000])["labels"]
        assert labels[0].startswith("19:00"), "midnight UTC is 19:00 the day before in New York"
    finally:
        context.close()


def settled(page, script: str):
    """``page.evaluate(script)``, or None while the page is reloading."""
    try:
        return page.evaluate(script)
    except Exception as exc:  # Playwright's error while a navigation replaces the page
        if "context was destroyed" in str(exc) or "navigat" in str(exc):
            return None
        raise


def luminance(color: str) -> float:
    """Relative luminance of a #rrggbb colour (WCAG)."""
    channels = [int(color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def rgb_hex(css: str) -> str:
    """``rgb(1, 2, 3)`` (or rgba) as ``#010203``."""
    parts = css[css.index("(") + 1:css.index(")")].split(",")[:3]
    return "#" + "".join(f"{int(float(p)):02x}" for p in parts)


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_both_themes_have_readable_text_everywhere(served, page, theme):
    page.goto(f"{served.url}?theme={theme}")
    with_data(page)
    axis = page.evaluate(AXIS_JS, [0, 1000])
    background = axis["background"]
    assert (luminance(background) < 0.1) == (theme == "dark"), f"the plot background of the {theme} theme"
    assert contrast(axis["text"], background) >= 4.5 and contrast(axis["title"], background) >= 4.5
    body = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    # the status table and the controls: text against the page
    for selector in (".dashboard-status", ".dashboard-controls"):
        # the status table is redrawn every second: an element replaced while read has no computed style
        color = poll(lambda s=selector: page.locator(s).first.evaluate("e => getComputedStyle(e).color"),
                     timeout=10, what=f"the computed colour of {selector}")
        assert contrast(rgb_hex(color), rgb_hex(body)) >= 4.5, f"{selector} in the {theme} theme"
    assert page.errors.messages == []


def test_a_phone_s_width_has_no_horizontal_scroll(served, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.errors = PageErrors()
    page.errors.attach(page)
    try:
        page.goto(served.url)
        with_data(page)
        widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px viewport"
        policies = page.evaluate("() => [...Bokeh.documents[0].all_models].filter(m => m.major_label_policy)"
                                 ".map(m => m.major_label_policy.type)")  # a narrow axis drops, never overlaps
        assert policies and set(policies) == {"NoOverlap"}, policies
        assert page.errors.messages == []
    finally:
        context.close()


def test_auto_follows_the_browser_s_colour_preference(served, browser):
    context = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = PageErrors()
    page.errors.attach(page)
    try:
        page.goto(served.url)
        # the first page stored the preference in a cookie and reloaded once into the dark template
        poll(lambda: any(c["name"] == "dashboard_dark" and c["value"] == "1" for c in context.cookies()),
             timeout=10, what="the preference in a cookie")
        body = poll(lambda: (b := settled(page, "() => getComputedStyle(document.body).backgroundColor"))
                    and luminance(rgb_hex(b)) < 0.1 and b, timeout=20, what="the dark template")
        with_data(page)
        axis = poll(lambda: (a := page.evaluate(AXIS_JS, [0, 1000])) and luminance(a["background"]) < 0.1 and a,
                    timeout=10, what="dark plots")
        assert contrast(axis["text"], axis["background"]) >= 4.5 and luminance(rgb_hex(body)) < 0.1
        assert "theme" not in query(page), "auto stays auto in the URL"
        assert page.errors.messages == []
    finally:
        context.close()


@pytest.mark.parametrize("start", ["auto", "light"])
def test_the_theme_switches_in_place_and_back(served, page, start):
    page.goto(f"{served.url}?theme={start}")
    with_data(page)
    page.evaluate("() => { window.sameDocument = true }")  # gone if the page reloads
    for theme in ("dark", "light"):
        page.locator(".dashboard-theme select").select_option(theme)

        def switched(theme: str = theme) -> bool:
            body = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
            background = page.evaluate(AXIS_JS, [0, 1000])["background"]
            dark = theme == "dark"
            return (luminance(rgb_hex(body)) < 0.1) == dark and (luminance(background) < 0.1) == dark \
                and page.evaluate("() => document.documentElement.dataset.bsTheme") == theme

        poll(switched, timeout=10, what=f"the page and its plots in the {theme} theme")
        assert page.evaluate("() => window.sameDocument === true"), "switched in place, not reloaded"
        assert poll(lambda: query(page).get("theme"), timeout=10, what="the theme in the URL") == theme
        body = rgb_hex(page.evaluate("() => getComputedStyle(document.body).backgroundColor"))
        for selector in (".dashboard-status", ".dashboard-controls"):
            color = poll(lambda s=selector: page.locator(s).first.evaluate("e => getComputedStyle(e).color"),
                         timeout=10, what=f"the computed colour of {selector}")
            assert contrast(rgb_hex(color), body) >= 4.5, f"{selector} in the {theme} theme, switched in place"
    with_data(page)
    assert page.errors.messages == []
