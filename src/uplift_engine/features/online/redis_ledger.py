r"""The Redis online store's ledger: capped counters and holds, each change one Lua script.

Invariant: a ledger ``L`` is the hash ``<prefix>_ledger:L:c`` (counter → integer), the hash
``…:h`` (hold → ``"<tag>\\n<refundable JSON>"``), the sorted set ``…:e`` (hold by expiry) and,
per tag, ``…:t:<tag>`` (its holds by expiry). A reservation checks the capped counters and
writes the amounts and the hold in one script, which Redis runs atomically — so concurrent
reservations from any number of services and Lambdas never pass a cap; a settlement gives the
refundable amounts back and removes the hold in one script, so a hold is settled at most once.
Integers only (``HINCRBY``), never floats.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_SETTLE_ONE = """
local function settle(hold, redeemed)
  local record = redis.call('HGET', KEYS[2], hold)
  if not record then return 0 end
  local nl = string.find(record, '\\n', 1, true)
  local tag = string.sub(record, 1, nl - 1)
  if redeemed == '0' then
    local back = cjson.decode(string.sub(record, nl + 1))
    for counter, value in pairs(back) do
      if value ~= 0 then
        redis.call('HINCRBY', KEYS[1], counter, string.format('%.0f', -value))
      end
    end
  end
  redis.call('HDEL', KEYS[2], hold)
  redis.call('ZREM', KEYS[3], hold)
  redis.call('ZREM', ARGV[1] .. tag, hold)
  return 1
end
"""

_RESERVE = """
-- KEYS: counters, holds, expiry, the tag's set; ARGV: hold, expires, tag, refundable, n,
-- then n × (counter, amount, cap or -1)
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return '' end
local n = tonumber(ARGV[5])
for i = 0, n - 1 do
  local cap = tonumber(ARGV[8 + 3 * i])
  if cap >= 0 then
    local now = tonumber(redis.call('HGET', KEYS[1], ARGV[6 + 3 * i]) or '0')
    if now + tonumber(ARGV[7 + 3 * i]) > cap then return ARGV[6 + 3 * i] end
  end
end
for i = 0, n - 1 do
  redis.call('HINCRBY', KEYS[1], ARGV[6 + 3 * i], ARGV[7 + 3 * i])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. '\\n' .. ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
return ''
"""

_SETTLE = (
    _SETTLE_ONE
    + """
-- KEYS: counters, holds, expiry; ARGV: tag prefix, hold or '', tag, redeemed ('1' or '0')
local hold = ARGV[2]
if hold == '' then
  local first = redis.call('ZRANGE', ARGV[1] .. ARGV[3], 0, 0)
  if #first == 0 then return 0 end
  hold = first[1]
end
return settle(hold, ARGV[4])
"""
)

_EXPIRE = (
    _SETTLE_ONE
    + """
-- KEYS: counters, holds, expiry; ARGV: tag prefix, now, limit
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
for _, hold in ipairs(due) do settle(hold, '0') end
return #due
"""
)


class RedisLedger:
    """The ledger methods of :class:`~uplift_engine.features.online.redis.RedisStore`."""

    _client: Any
    prefix: str
    _errors: tuple[type[BaseException], ...]
    _ledger_scripts: tuple[Any, Any, Any] | None = None

    def _scripts(self) -> tuple[Any, Any, Any]:
        if self._ledger_scripts is None:
            register = self._client.register_script
            self._ledger_scripts = (register(_RESERVE), register(_SETTLE), register(_EXPIRE))
        return self._ledger_scripts

    def _keys(self, ledger: str) -> list[str]:
        base = f"{self.prefix}_ledger:{ledger}:"
        return [base + "c", base + "h", base + "e"]

    def reserve(
        self,
        ledger: str,
        hold: str,
        tag: str,
        amounts: Mapping[str, int],
        refundable: Mapping[str, int],
        caps: Mapping[str, int],
        expires_us: int,
    ) -> str | None:
        """Add ``amounts`` and keep the hold unless a cap would be passed (one script)."""
        keys = [*self._keys(ledger), f"{self.prefix}_ledger:{ledger}:t:{tag}"]
        args: list[Any] = [hold, int(expires_us), tag, json.dumps(dict(refundable)), len(amounts)]
        for counter, amount in amounts.items():
            args += [counter, int(amount), int(caps.get(counter, -1))]
        try:
            found = self._scripts()[0](keys=keys, args=args)
        except self._errors as exc:
            raise self._error(exc) from exc  # type: ignore[attr-defined]
        return found or None

    def settle(self, ledger: str, hold: str | None, tag: str | None, redeemed: bool) -> bool:
        """End a hold by id, or the oldest with ``tag``; give back its refund unless redeemed."""
        flag = "1" if redeemed else "0"
        args = [f"{self.prefix}_ledger:{ledger}:t:", hold or "", tag or "", flag]
        try:
            return bool(self._scripts()[1](keys=self._keys(ledger), args=args))
        except self._errors as exc:
            raise self._error(exc) from exc  # type: ignore[attr-defined]

    def expire(self, ledger: str, now_us: int, limit: int = 1000) -> int:
        """Settle as unredeemed the holds that expired by ``now_us`` (at most ``limit``)."""
        args = [f"{self.prefix}_ledger:{ledger}:t:", int(now_us), int(limit)]
        try:
            return int(self._scripts()[2](keys=self._keys(ledger), args=args))
        except self._errors as exc:
            raise self._error(exc) from exc  # type: ignore[attr-defined]

    def counters(self, ledger: str) -> dict[str, int]:
        """Every counter of the ledger."""
        try:
            found = self._client.hgetall(self._keys(ledger)[0])
        except self._errors as exc:
            raise self._error(exc) from exc  # type: ignore[attr-defined]
        return {c: int(v) for c, v in found.items()}
