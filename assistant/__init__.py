"""Live multilingual captions for conferences, on the event's own hardware.

The folders follow the pipeline: ``audio`` (sources, formats) → ``asr`` (streaming
recognition) → ``captions`` (values, wire protocol) → ``translate`` → ``hub``
(fan-out to readers) → ``server`` (aiohttp adapters); ``store`` and ``export``
stand beside it.
"""

__version__ = "0.1.0"
