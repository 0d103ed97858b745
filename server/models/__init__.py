"""Database models, one module per family. Importing this registers them all."""

from server.models.attachments import Attachment, CaseAttachment
from server.models.audit import AuditRoot
from server.models.base import Base
from server.models.cases import Case, CaseAction, CaseEvent, CaseNumberCounter, Rating
from server.models.catalog import Category
from server.models.deliberation import (
    CouncilMember,
    Meeting,
    Topic,
    TopicCase,
    TopicComment,
    TopicEvent,
    TopicRating,
    TopicView,
    VotingCode,
)
from server.models.holidays import HolidayYear
from server.models.index import Bulletin, IndexFormula, SentimentIndex
from server.models.interop import (
    ExportLog,
    HotlineCategory,
    HotlineOrder,
    Open311Client,
    Open311Request,
)
from server.models.notices import Notice, NoticeQuestion
from server.models.notify import Notification, WebhookDelivery, WebhookSubscription
from server.models.org import Community, Grid, Subdistrict, Unit
from server.models.patrols import Patrol, PatrolLog, PatrolSchedule, PatrolSlot
from server.models.people import CollectorGrid, Device, User
from server.models.ratelimit import RateLimitWindow
from server.models.routing import RoutingRule, SavedFilter
from server.models.sessions import AuthSession
from server.models.sync import SYNC_TABLES

__all__ = [
    "SYNC_TABLES",
    "Attachment",
    "AuditRoot",
    "AuthSession",
    "Base",
    "Bulletin",
    "Case",
    "CaseAction",
    "CaseAttachment",
    "CaseEvent",
    "CaseNumberCounter",
    "Category",
    "CollectorGrid",
    "Community",
    "CouncilMember",
    "Device",
    "ExportLog",
    "Grid",
    "HolidayYear",
    "HotlineCategory",
    "HotlineOrder",
    "IndexFormula",
    "Meeting",
    "Notice",
    "NoticeQuestion",
    "Notification",
    "Open311Client",
    "Open311Request",
    "Patrol",
    "PatrolLog",
    "PatrolSchedule",
    "PatrolSlot",
    "RateLimitWindow",
    "Rating",
    "RoutingRule",
    "SavedFilter",
    "SentimentIndex",
    "Subdistrict",
    "Topic",
    "TopicCase",
    "TopicComment",
    "TopicEvent",
    "TopicRating",
    "TopicView",
    "Unit",
    "User",
    "VotingCode",
    "WebhookDelivery",
    "WebhookSubscription",
]
