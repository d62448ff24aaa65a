"""Many rooms on many machines: the caption log, the bus, audio and leases on Redis Streams.

The single process (``role = "all"`` without Redis) does not use this package.
A cluster runs ``worker`` processes, which own rooms by lease and run their
recognition and translation, and ``web`` processes, which serve any room's
readers, chairs, capture stations and exports, holding nothing of their own.
"""
