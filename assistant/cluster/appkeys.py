"""The cluster's own resources on the aiohttp application, each under a typed ``web.AppKey``."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp import web

REDIS = web.AppKey("redis", aioredis.Redis)
