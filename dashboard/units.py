"""Units: how a value reads on a card, an axis, a hover and the status table, one set of rules.

=============  =============================================  ========================
unit           rule                                           examples
=============  =============================================  ========================
``B``          IEC prefixes (powers of 1,024)                 ``512 B``, ``1.5 KiB``, ``3.2 GiB``
``B/s``        the same, per second                           ``1.5 MiB/s``
``%``          a percentage, no prefix                        ``12.5 %``
``s``          a duration: ms below a second, then s, min, h  ``850 ms``, ``12.3 s``, ``4 min 3 s``
anything else  SI prefixes from a thousand on (k, M, G, T)    ``950``, ``12.3 k req/s``, ``4.1 G``
=============  =============================================  ========================

:func:`format_value` is the Python side (cards, the status table, ``svc`` in a notebook);
:data:`FORMAT_JS` is the same rules in JavaScript for Bokeh's axis tick and hover formatters, so a
value reads the same wherever it is shown. Units come from sources: every one is treated as text (the
rendering boundary escapes it). This module imports neither panel nor bokeh.
"""

from __future__ import annotations

import functools
import math
import zoneinfo

IEC = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
SI = ("", "k", "M", "G", "T", "P", "E")


def _number(value: float) -> str:
    """Three significant figures at most, thousands separated, no trailing zeros: 1.23, 12.3, 60, 1,234."""
    if value == 0:
        return "0"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{math.floor(value + 0.5):,}"  # half up, as JavaScript's Math.round
    digits = 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def _scaled(value: float, base: float, prefixes: tuple[str, ...]) -> tuple[float, str]:
    i = 0
    while abs(value) >= base and i < len(prefixes) - 1:
        value /= base
        i += 1
    return value, prefixes[i]


def format_duration(seconds: float) -> str:
    """850 ms, 12.3 s, 4 min 3 s, 2 h 5 min, 3 d 4 h."""
    sign, s = ("-" if seconds < 0 else ""), abs(seconds)
    if s < 1:
        return f"{sign}{_number(s * 1000)} ms"
    if s < 60:
        return f"{sign}{_number(s)} s"
    for size, name, small, small_name in ((86400, "d", 3600, "h"), (3600, "h", 60, "min"), (60, "min", 1, "s")):
        if s >= size:
            whole, rest = divmod(math.floor(s + 0.5), size)  # half up, as Math.round
            part = rest // small
            return f"{sign}{whole} {name}" + (f" {part} {small_name}" if part else "")
    return f"{sign}{_number(s)} s"  # pragma: no cover - every s >= 60 matched above


def format_value(value: float | None, unit: str = "") -> str:
    """``value`` in ``unit`` as a person reads it (see the table above); "no data" for None or NaN."""
    if value is None or not math.isfinite(value):
        return "no data"
    if unit in ("B", "B/s"):
        scaled, prefix = _scaled(value, 1024, IEC)
        return f"{_number(scaled)} {prefix}{unit}"
    if unit == "%":
        return f"{_number(value)} %"
    if unit == "s":
        return format_duration(value)
    scaled, prefix = _scaled(value, 1000, SI)
    return f"{_number(scaled)} {prefix}{unit}".strip()


#: :func:`format_value` in JavaScript: ``format(value, unit)``, for Bokeh's CustomJS tick and hover
#: formatters (the unit is passed as data, never spliced into the code).
FORMAT_JS = """
function number(v) {
  if (v === 0) return '0'
  const a = Math.abs(v)
  if (a >= 100 || Number.isInteger(v)) return Math.round(v).toLocaleString('en-US')
  return v.toLocaleString('en-US', {maximumFractionDigits: a >= 10 ? 1 : 2})
}
function scaled(v, base, prefixes) {
  let i = 0
  while (Math.abs(v) >= base && i < prefixes.length - 1) { v /= base; i++ }
  return [v, prefixes[i]]
}
function duration(s) {
  const sign = s < 0 ? '-' : ''
  s = Math.abs(s)
  if (s < 1) return sign + number(s * 1000) + ' ms'
  if (s < 60) return sign + number(s) + ' s'
  for (const [size, name, small, smallName] of [[86400, 'd', 3600, 'h'], [3600, 'h', 60, 'min'], [60, 'min', 1, 's']]) {
    if (s >= size) {
      const r = Math.round(s), whole = Math.floor(r / size), part = Math.floor((r % size) / small)
      return sign + whole + ' ' + name + (part ? ' ' + part + ' ' + smallName : '')
    }
  }
}
function format(v, unit) {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'no data'
  if (unit === 'B' || unit === 'B/s') {
    const [x, p] = scaled(v, 1024, ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'])
    return number(x) + ' ' + p + unit
  }
  if (unit === '%') return number(v) + ' %'
  if (unit === 's') return duration(v)
  const [x, p] = scaled(v, 1000, ['', 'k', 'M', 'G', 'T', 'P', 'E'])
  return (number(x) + ' ' + p + unit).trim()
}
"""


def time_format(step: float | None) -> str:
    """The ``strftime`` format of a time on an axis whose ticks are ``step`` seconds apart (a hover: None)."""
    if step is None:
        return "%Y-%m-%d %H:%M:%S.%f"
    if step < 1:
        return "%H:%M:%S.%f"
    if step < 60:
        return "%H:%M:%S"
    if step < 86400:
        return "%H:%M"
    return "%d %b"


def format_time(epoch: float, timezone: str | None = None, step: float | None = None) -> str:
    """``epoch`` seconds as a clock time in ``timezone`` (the machine's when None), as precise as ``step``
    (seconds between axis ticks) needs: the rules of :data:`TIME_JS`, in Python (status table, notebooks)."""
    import datetime as dt
    import zoneinfo

    zone = zoneinfo.ZoneInfo(timezone) if timezone else None
    text = dt.datetime.fromtimestamp(epoch, dt.timezone.utc).astimezone(zone).strftime(time_format(step))
    return text[:-3] if text.endswith(tuple("0123456789")) and "%f" in time_format(step) else text


#: Times in a display time zone, for Bokeh's datetime axis and hovers (Bokeh itself draws times in UTC):
#: ``time(ms, tz, step)`` with ``tz`` an IANA name or '' for the browser's zone, ``step`` the milliseconds
#: between ticks (null: a hover's full date and time). The formats of :func:`time_format`.
TIME_JS = """
function dateformat(opts) {
  // one Intl.DateTimeFormat per set of options, kept for the page: making one costs far more than using it,
  // and an axis formats every tick at every frame
  const cache = globalThis.__dashboard_dateformats ??= new Map()
  const key = JSON.stringify(opts)
  let format = cache.get(key)
  if (format === undefined)
    cache.set(key, format = new Intl.DateTimeFormat('en-GB', opts))
  return format
}
function time(ms, tz, step) {
  const opts = {timeZone: tz || undefined, hourCycle: 'h23'}
  const clock = {hour: '2-digit', minute: '2-digit'}
  if (step == null)
    Object.assign(opts, {year: 'numeric', month: '2-digit', day: '2-digit', second: '2-digit',
                         fractionalSecondDigits: 3}, clock)
  else if (step < 1000)
    Object.assign(opts, clock, {second: '2-digit', fractionalSecondDigits: 3})
  else if (step < 60000)
    Object.assign(opts, clock, {second: '2-digit'})
  else if (step < 86400000)
    Object.assign(opts, clock)
  else
    Object.assign(opts, {day: '2-digit', month: 'short'})
  const parts = {}
  for (const p of dateformat(opts).formatToParts(new Date(ms)))
    parts[p.type] = p.value
  const hms = step != null && step >= 60000 ? `${parts.hour}:${parts.minute}`
    : `${parts.hour}:${parts.minute}:${parts.second}` + (parts.fractionalSecond ? `.${parts.fractionalSecond}` : '')
  if (step == null)
    return `${parts.year}-${parts.month}-${parts.day} ${hms}`
  if (step >= 86400000)
    return `${parts.day} ${parts.month}`
  return hms
}
function day(ms, tz) {
  return dateformat({timeZone: tz || undefined, year: 'numeric', month: 'short',
                                           day: 'numeric'}).format(new Date(ms))
}
"""


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA time zone names this machine knows (read once: a walk of the zone database's folder)."""
    return frozenset(zoneinfo.available_timezones())
