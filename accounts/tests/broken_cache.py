"""A cache backend for tests that fails on every call, as the Redis cache does while Redis is down."""

from django.core.cache.backends.base import BaseCache
from redis.exceptions import ConnectionError as RedisConnectionError

BROKEN_CACHES = {"default": {"BACKEND": "accounts.tests.broken_cache.BrokenCache"}}


class BrokenCache(BaseCache):
    calls = 0  # how many calls failed, over all instances: proof the cache was asked

    def __init__(self, location, params):
        super().__init__(params)

    def _fail(self, *args, **kwargs):
        BrokenCache.calls += 1
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused. (test)")

    add = get = set = touch = delete = clear = incr = decr = has_key = _fail
    get_many = set_many = delete_many = get_or_set = _fail
