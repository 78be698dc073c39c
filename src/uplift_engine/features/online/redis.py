"""The production online store: one Redis HASH per key, read with one HGETALL.

Invariant: key ``k`` lives in the HASH ``<key_prefix><k>``, one hash field per feature value,
so a customer's features are one ``HGETALL`` (one round trip). A window ``_w:<source>`` lives
in the same hash, as one field per kept event, ``_e:<source>:<event id>`` → the event's row,
and a head ``_h:<source>`` → ``"<latest time> <oldest time>"``; ``get`` folds them back into
``_w:<source>`` = ``[watermark,[row,…]]``, so readers never see the parts. Batches go through
a non-transactional pipeline (one round trip per 1,000 commands). ``append_events`` is one
Lua script run atomically by Redis (by its SHA, ``EVALSHA``, loaded again if the server lost
it) per 2,000 events: it decides each event where the window lives — a kept id is a
duplicate, more than the lateness behind the head's latest time is late, else the row is
``HSET`` — and drops the events beyond the horizon when the oldest one has fallen behind it,
so one event costs one round trip and no read before it. Connection problems raise
:class:`~uplift_engine.errors.StorageError` naming the URL (without its password). The
``redis`` package is imported when a store is opened, not with the feature layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from uplift_engine.errors import ConfigError, StorageError
from uplift_engine.features.online.codec import WINDOW_PREFIX
from uplift_engine.features.online.redis_ledger import RedisLedger
from uplift_engine.features.online.store import WindowEvent

_PIPELINE = 1_000
_EVENTS_PER_CALL = 2_000
_EVENT, _HEAD = "_e:", "_h:"
# ARGV: source, lateness µs, horizon µs, then per event: key index (in KEYS), id, ts, row.
# Times are below 2^53 (years 2000–2100 in µs), so Lua's doubles hold them exactly.
_APPEND_LUA = """
local source, lateness, horizon = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local head_field, prefix = '_h:' .. source, '_e:' .. source .. ':'
local heads, codes = {}, {}
local function row_ts(row) return tonumber(string.match(row, '^%[(%d+)')) end
for i = 4, #ARGV, 4 do
  local k = tonumber(ARGV[i])
  local key, head = KEYS[k], heads[k]
  if not head then
    local text = redis.call('HGET', key, head_field)
    if text then
      local latest, oldest = string.match(text, '^(%d+) (%d+)$')
      head = {tonumber(latest), tonumber(oldest), false}
    else
      head = {false, false, false}
    end
    heads[k] = head
  end
  local field, ts, latest = prefix .. ARGV[i + 1], tonumber(ARGV[i + 2]), head[1]
  local kept = latest and redis.call('HGET', key, field)
  if kept and row_ts(kept) >= latest - horizon then
    codes[#codes + 1] = 'd'
  elseif latest and ts < latest - lateness then
    codes[#codes + 1] = 'l'
  else
    redis.call('HSET', key, field, ARGV[i + 3])
    if not latest or ts > latest then head[1] = ts end
    if not head[2] or ts < head[2] then head[2] = ts end
    head[3] = true
    codes[#codes + 1] = 'a'
  end
end
for k, head in pairs(heads) do
  if head[3] then
    local key, cutoff, oldest = KEYS[k], head[1] - horizon, head[2]
    if oldest < cutoff then
      oldest = head[1]
      local all = redis.call('HGETALL', key)
      for j = 1, #all, 2 do
        if string.sub(all[j], 1, #prefix) == prefix then
          local ts = row_ts(all[j + 1])
          if ts < cutoff then redis.call('HDEL', key, all[j])
          elseif ts < oldest then oldest = ts end
        end
      end
    end
    redis.call('HSET', key, head_field, string.format('%d %d', head[1], oldest))
  end
end
return table.concat(codes)
"""


class RedisStore(RedisLedger):
    """An :class:`~uplift_engine.features.online.store.OnlineStore` in Redis hashes.

    It is also the campaign ledger of real-time pacing (:mod:`.redis_ledger`).
    """

    def __init__(self, url: str, key_prefix: str = "uplift:", *, timeout: float = 5.0) -> None:
        try:
            import redis
        except ImportError as exc:
            raise ConfigError(
                "the Redis online store needs the redis package: pip install redis",
                field="online_store",
            ) from exc
        self.url = url
        self.prefix = key_prefix
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._no_script = redis.exceptions.NoScriptError
        try:
            self._client = redis.Redis.from_url(
                url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        except ValueError as exc:
            raise ConfigError(f"online_store.url {_safe(url)!r}: {exc}", field="url") from exc
        self._append = self._client.register_script(_APPEND_LUA)

    def get(self, key: str) -> dict[str, str]:
        """Every field of ``key`` (empty when absent): one HGETALL."""
        try:
            fields = cast(dict[str, str], self._client.hgetall(self.prefix + key))
        except self._errors as exc:
            raise self._error(exc) from exc
        return _fold(fields)

    def get_many(self, keys: Sequence[str]) -> list[dict[str, str]]:
        """Every field of each key, in order: pipelined HGETALLs."""
        out: list[dict[str, str]] = []
        try:
            for start in range(0, len(keys), _PIPELINE):
                pipe = self._client.pipeline(transaction=False)
                for key in keys[start : start + _PIPELINE]:
                    pipe.hgetall(self.prefix + key)
                out.extend(_fold(fields) for fields in pipe.execute())
        except self._errors as exc:
            raise self._error(exc) from exc
        return out

    def put(self, rows: Iterable[tuple[str, Mapping[str, str]]]) -> int:
        """Merge fields into keys with pipelined HSETs; returns the rows written."""
        written = 0
        try:
            pipe = self._client.pipeline(transaction=False)
            pending = 0
            for key, fields in rows:
                if not fields:
                    continue
                mapping: dict[Any, Any] = dict(fields)
                pipe.hset(self.prefix + key, mapping=mapping)
                pending += 1
                if pending == _PIPELINE:
                    pipe.execute()
                    written += pending
                    pending = 0
            if pending:
                pipe.execute()
                written += pending
        except self._errors as exc:
            raise self._error(exc) from exc
        return written

    def append_events(
        self, field: str, events: Sequence[WindowEvent], lateness_us: int, horizon_us: int
    ) -> str:
        """Add events to window ``field``: one Lua call by its SHA per 2,000 events."""
        source = field[len(WINDOW_PREFIX) :]
        head = [source, str(lateness_us), str(horizon_us)]
        prefix = self.prefix
        codes: list[str] = []
        try:
            for start in range(0, len(events), _EVENTS_PER_CALL):
                index: dict[str, int] = {}
                args: list[str | int] = [*head]
                for key, event_id, ts, row in events[start : start + _EVENTS_PER_CALL]:
                    slot = index.get(key)
                    if slot is None:
                        slot = index[key] = len(index) + 1
                    args += (slot, event_id, ts, row)
                keys = [prefix + key for key in index]
                codes.append(self._append(keys=keys, args=args))
        except self._errors as exc:
            raise self._error(exc) from exc
        return "".join(codes)

    def delete(self, keys: Iterable[str]) -> int:
        """Remove the keys; returns how many were there."""
        names = [self.prefix + k for k in keys]
        removed = 0
        try:
            for start in range(0, len(names), _PIPELINE):
                removed += int(self._client.delete(*names[start : start + _PIPELINE]))
        except self._errors as exc:
            raise self._error(exc) from exc
        return removed

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __repr__(self) -> str:
        return f"RedisStore({_safe(self.url)!r}, {self.prefix!r})"

    def _error(self, exc: BaseException) -> StorageError:
        return StorageError(f"the Redis online store at {_safe(self.url)} failed: {exc}")


def _fold(fields: dict[str, str]) -> dict[str, str]:
    """A hash's fields with each window's event rows and head folded into ``_w:<source>``."""
    parts = [name for name in fields if name[:3] in (_EVENT, _HEAD)]
    if not parts:
        return fields
    rows: dict[str, list[str]] = {}
    heads: dict[str, str] = {}
    for name in parts:
        text = fields.pop(name)
        if name[:3] == _HEAD:
            heads[name[3:]] = text.partition(" ")[0]
        else:
            rows.setdefault(name[3:].partition(":")[0], []).append(text)
    for source, latest in heads.items():
        fields[WINDOW_PREFIX + source] = f"[{latest},[{','.join(rows.get(source, ()))}]]"
    return fields


def _safe(url: str) -> str:
    """The URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
