"""Every model, imported here so ``Base.metadata`` is complete for migrations and tests."""

from driftwatch.db.models.api_key import ApiKey
from driftwatch.db.models.call import Call
from driftwatch.db.models.class_hour import ClassHour

__all__ = ["ApiKey", "Call", "ClassHour"]
