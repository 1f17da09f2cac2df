"""The transport's private names of Bokeh, Panel, Tornado and pyviz_comms exist on the installed versions.

An upgrade that renamed one would silently turn backpressure off or let two messages' frames interleave;
this test fails instead. The instance-level names are looked up on a real server session that a real
Chromium page holds open.
"""

from __future__ import annotations

import asyncio

import pytest
import pyviz_comms

from dashboard.ui import transport
from dashboard.ui.feed import Feed

from ..support import poll

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_the_class_level_names_exist():
    assert transport.missing() == []
    assert transport.missing(comm=pyviz_comms.JupyterComm()) == []
    assert not transport.comm_open(pyviz_comms.JupyterComm()), "a comm the frontend has not opened"


def test_the_session_level_names_exist_on_a_page_held_open_by_chromium(served, page):
    page.goto(served.url)
    poll(lambda: served.loop is not None and Feed.open_feeds(), timeout=30, what="a feed for the page")

    async def inspect() -> tuple[list[str], int, list[bool]]:
        feed = Feed.open_feeds()[0]
        for _ in range(500):  # the page's websocket subscribes shortly after the document is made
            if transport.connections(feed.doc):
                break
            await asyncio.sleep(0.02)
        connections = transport.connections(feed.doc)
        return transport.missing(feed.doc), len(connections), [transport.writing(c) for c in connections]

    gone, count, writing = served.call(inspect())
    assert gone == []
    assert count == 1, "the page's one websocket connection"
    assert writing in ([False], [True])
    assert len(transport.PRIVATE) == 13
