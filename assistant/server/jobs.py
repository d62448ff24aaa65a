"""Progress of staff exports, by a job id the staff page chooses.

The page starts a download with ``?job=ID`` (8–64 letters, digits, ``-`` or
``_``, random) and polls ``GET /api/exports/{job}`` (``staff.export_progress``)
while the file streams: captions written of the total, translations made of
those needed, and how it ended. The app keeps the running exports and the last
:data:`KEEP_JOBS` ones in one :class:`ExportJobs` (``app[EXPORT_JOBS]``); the
oldest finished are forgotten first.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from ..errors import NotFoundError, ProtocolError
from ..export.progress import ExportProgress

KEEP_JOBS = 256  # exports remembered (running ones always are); a finished one is read within seconds
MAX_PUBLIC_TRANSLATING = 1  # delegates' downloads that translate, at once; the next is asked to wait
JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class ExportJobs:
    """The exports the staff page follows, and how many delegates' downloads translate now."""

    def __init__(self, keep: int = KEEP_JOBS) -> None:
        self._keep = keep
        self._jobs: OrderedDict[str, ExportProgress] = OrderedDict()
        self.public_translating = 0

    @staticmethod
    def check_id(job: str) -> str:
        """``job`` if it is a well-formed job id; ProtocolError (``bad_job``) otherwise."""
        if not JOB_ID_RE.match(job):
            raise ProtocolError("job must be 8 to 64 letters, digits, '-' or '_' (a random id the page makes)",
                                code="bad_job")
        return job

    def add(self, job: str, progress: ExportProgress) -> None:
        """Follow ``progress`` as ``job``; ProtocolError when that id is running already."""
        old = self._jobs.get(self.check_id(job))
        if old is not None and old.report().state == "running":
            raise ProtocolError(f"export job {job!r} is running already; make a new id for each download",
                                code="exists")
        self._jobs[job] = progress
        self._jobs.move_to_end(job)
        finished = [k for k, p in self._jobs.items() if p.report().state != "running"]
        for k in finished[:max(0, len(self._jobs) - self._keep)]:
            del self._jobs[k]

    def get(self, job: str) -> ExportProgress:
        progress = self._jobs.get(job)
        if progress is None:
            raise NotFoundError(f"no export job {job[:64]!r}: it has not started yet, or finished long ago")
        return progress

