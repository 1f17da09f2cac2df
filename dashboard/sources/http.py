"""HTTP for sources: one pooled ``httpx.AsyncClient`` per service, and answers read defensively.

This is the seed's connection pool, done by httpx: connections are kept alive and reused across
collections, capped in number, and every request has a timeout. The service makes one client when it
starts and closes it when it stops; a source used on its own (a test, a notebook cell) makes its own.
"""

from __future__ import annotations

import httpx

from ..errors import DataError

#: Upper bound on a body read from a peer; a larger answer is a data error, not a memory problem.
MAX_BODY = 32 * 1024 * 1024


def make_client(timeout: float = 10.0, max_connections: int = 32) -> httpx.AsyncClient:
    """An async client with a bounded pool, keep-alive and timeouts; never follows redirects off-host."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections // 2),
        follow_redirects=False,
        headers={"User-Agent": "dashboard (live metrics)"},
        trust_env=False,
    )


async def get_text(client: httpx.AsyncClient, url: str, *, params: dict | None = None,
                   headers: dict | None = None, timeout: float | None = None) -> tuple[str, str]:
    """GET ``url``; returns (body text, content type). HTTP errors raise ``httpx.HTTPStatusError``."""
    kwargs = {} if timeout is None else {"timeout": timeout}
    async with client.stream("GET", url, params=params, headers=headers, **kwargs) as response:
        response.raise_for_status()
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BODY:
                raise DataError(f"{url}: answer larger than {MAX_BODY // (1024 * 1024)} MiB")
            chunks.append(chunk)
        body = b"".join(chunks)
        encoding = response.charset_encoding or "utf-8"
        return body.decode(encoding, errors="replace"), response.headers.get("content-type", "")
