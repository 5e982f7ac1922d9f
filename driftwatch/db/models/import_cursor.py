"""Where an import from an external source (a Langfuse project, …) got to, so a re-run resumes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, UTCDateTime


class ImportCursor(Base):
    __tablename__ = "import_cursor"

    source: Mapped[str] = mapped_column(String(255), primary_key=True)  # e.g. langfuse:<host>:<project>
    cursor: Mapped[str] = mapped_column(Text)  # JSON, owned by the importer of that source
    imported: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
