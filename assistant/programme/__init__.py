"""The conference programme: rooms and talks, read from CSV, JSON or iCalendar (no I/O here).

:func:`parse` reads a file's bytes into a :class:`Programme` or raises
:class:`ProgrammeError` listing each bad field with its line; :mod:`.rollover`
decides, from the programme and the time, which talk each room holds.
"""

from .formats import FORMATS, Format, detect, parse
from .model import Problem, Programme, ProgrammeError, Room, Talk, zone

__all__ = ["FORMATS", "Format", "Problem", "Programme", "ProgrammeError", "Room", "Talk", "detect", "parse", "zone"]
