"""aiohttp adapters: HTTP pages and APIs, reader/chair/audio WebSockets, session runtimes."""
