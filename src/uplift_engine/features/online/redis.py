"""The production online store: one Redis HASH per key, read with one HGETALL.

Invariant: key ``k`` lives in the HASH ``<key_prefix><k>``, one hash field per store field, so
a customer's features are one ``HGETALL`` (one round trip). Batches go through a
non-transactional pipeline (one round trip per 1,000 commands); ``swap`` is a small Lua script
run atomically by Redis (HGET, compare, HSET), called by its SHA (``EVALSHA``, loaded again if
the server lost it) — one call for a single event, one call looping over up to 1,000 swaps
for a batch. Connection problems raise :class:`~uplift_engine.errors.StorageError` naming
the URL (without its password). The ``redis`` package is imported when a store is opened,
not with the feature layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from uplift_engine.errors import ConfigError, StorageError
from uplift_engine.features.online.store import Swap

_PIPELINE = 1_000
_SWAP_LUA = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '0' then
  if current then return 0 end
elseif current ~= ARGV[3] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return 1
"""
_SWAP_MANY_LUA = """
local done = {}
for i, key in ipairs(KEYS) do
  local a = 4 * (i - 1)
  local current = redis.call('HGET', key, ARGV[a + 1])
  local ok
  if ARGV[a + 2] == '0' then ok = not current else ok = current == ARGV[a + 3] end
  if ok then
    redis.call('HSET', key, ARGV[a + 1], ARGV[a + 4])
    done[i] = 1
  else
    done[i] = 0
  end
end
return done
"""


class RedisStore:
    """An :class:`~uplift_engine.features.online.store.OnlineStore` in Redis hashes."""

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
        self._swap = self._client.register_script(_SWAP_LUA)
        self._swap_many = self._client.register_script(_SWAP_MANY_LUA)

    def get(self, key: str) -> dict[str, str]:
        """Every field of ``key`` (empty when absent): one HGETALL."""
        try:
            return cast(dict[str, str], self._client.hgetall(self.prefix + key))
        except self._errors as exc:
            raise self._error(exc) from exc

    def get_many(self, keys: Sequence[str]) -> list[dict[str, str]]:
        """Every field of each key, in order: pipelined HGETALLs."""
        out: list[dict[str, str]] = []
        try:
            for start in range(0, len(keys), _PIPELINE):
                pipe = self._client.pipeline(transaction=False)
                for key in keys[start : start + _PIPELINE]:
                    pipe.hgetall(self.prefix + key)
                out.extend(pipe.execute())
        except self._errors as exc:
            raise self._error(exc) from exc
        return out

    def get_state(self, keys: Sequence[str], field: str) -> list[str | None]:
        """State ``field`` of each key, in order: pipelined HGETs (one HGET for one key)."""
        out: list[str | None] = []
        try:
            if len(keys) == 1:
                return [cast(str | None, self._client.hget(self.prefix + keys[0], field))]
            for start in range(0, len(keys), _PIPELINE):
                pipe = self._client.pipeline(transaction=False)
                for key in keys[start : start + _PIPELINE]:
                    pipe.hget(self.prefix + key, field)
                out.extend(pipe.execute())
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

    def swap(self, swaps: Sequence[Swap]) -> list[bool]:
        """Compare-and-set each state atomically: one Lua call by its SHA per 1,000 swaps."""
        done: list[bool] = []
        try:
            if len(swaps) == 1:
                return [bool(self._swap(keys=[self.prefix + swaps[0].key], args=_args(swaps[0])))]
            prefix = self.prefix
            for start in range(0, len(swaps), _PIPELINE):
                chunk = swaps[start : start + _PIPELINE]
                args: list[str] = []
                for swap in chunk:
                    args += _args(swap)
                result = self._swap_many(keys=[prefix + s.key for s in chunk], args=args)
                done += [bool(r) for r in result]
        except self._errors as exc:
            raise self._error(exc) from exc
        return done

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


def _args(swap: Swap) -> list[str]:
    present = "0" if swap.expected is None else "1"
    return [swap.field, present, swap.expected or "", swap.new]


def _safe(url: str) -> str:
    """The URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
