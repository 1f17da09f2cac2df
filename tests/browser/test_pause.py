"""Pause and resume in a served page: the Pause toggle freezes every plot while collection goes on, and
resuming draws what came meanwhile."""

from __future__ import annotations

import pytest

from dashboard.ui.feed import Feed

from ..support import poll
from .conftest import PLOT_STATE_JS

pytestmark = [pytest.mark.browser, pytest.mark.server]


def lasts(page) -> dict[str, float]:
    return {k: v["last"] for k, v in page.evaluate(PLOT_STATE_JS).items() if v and v["rows"]}


def test_pause_freezes_the_page_and_resume_catches_up(served, page):
    page.goto(served.url)
    poll(lambda: "CPU (all cores)" in lasts(page), timeout=30, what="data on the page")
    (feed,) = poll(lambda: Feed.open_feeds(), timeout=10, what="the page's feed")
    page.get_by_role("button", name="Pause").click()
    poll(lambda: feed.paused, timeout=10, what="the feed to pause")
    held = poll(lambda: feed.paused_flushes >= 1 and feed.paused_flushes, timeout=15, what="a held flush")
    frozen = lasts(page)
    collections = served.service_collections()
    poll(lambda: feed.paused_flushes >= held + 4, timeout=30, what="four more collections held back")
    assert served.service_collections() >= collections + 4, "collection goes on"
    assert lasts(page) == frozen, "no plot drew a new row while paused"
    assert page.get_by_role("button", name="Pause").count() == 0, "the button says what it does now"
    page.get_by_role("button", name="Resume").click()
    poll(lambda: lasts(page).get("CPU (all cores)", 0) > frozen["CPU (all cores)"], timeout=15,
         what="the page to draw what came during the pause")
    assert not feed.paused and page.errors.messages == []
    poll(lambda: page.get_by_role("button", name="Pause").count() == 1, timeout=10, what="the button's label back")
