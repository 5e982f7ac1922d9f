"""Every model, imported here so ``Base.metadata`` is complete for migrations and tests."""

from driftwatch.db.models.api_key import ApiKey
from driftwatch.db.models.call import Call
from driftwatch.db.models.call_span import CallSpan
from driftwatch.db.models.class_coverage import ClassCoverage
from driftwatch.db.models.class_hour import ClassHour
from driftwatch.db.models.class_policy import ClassPolicy
from driftwatch.db.models.content_event import ContentEvent
from driftwatch.db.models.decision import Decision
from driftwatch.db.models.detector_state import DetectorRow
from driftwatch.db.models.evaluation import Evaluation
from driftwatch.db.models.evaluation_hour import EvaluationHour
from driftwatch.db.models.import_cursor import ImportCursor
from driftwatch.db.models.job_state import JobState
from driftwatch.db.models.model_watch import ModelWatch
from driftwatch.db.models.outbox_event import OutboxEvent
from driftwatch.db.models.recommendation import Recommendation
from driftwatch.db.models.score_drift import ScoreDriftRow
from driftwatch.db.models.shadow_allocation import ShadowAllocation
from driftwatch.db.models.shadow_cost_day import ShadowCostDay
from driftwatch.db.models.shadow_sample import SampleStatus, ShadowSample
from driftwatch.db.models.shadow_spend import ShadowSpend
from driftwatch.db.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Call",
    "CallSpan",
    "ClassCoverage",
    "ClassHour",
    "ClassPolicy",
    "ContentEvent",
    "Decision",
    "DetectorRow",
    "Evaluation",
    "EvaluationHour",
    "ImportCursor",
    "JobState",
    "ModelWatch",
    "OutboxEvent",
    "Recommendation",
    "SampleStatus",
    "ScoreDriftRow",
    "ShadowAllocation",
    "ShadowCostDay",
    "ShadowSample",
    "ShadowSpend",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
