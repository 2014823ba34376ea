"""The gateway's configuration: one TOML file, validated at load (README "Configuration").

Unknown keys and bad values are reported with their key path and the process refuses to
start.  Secrets are never in the file: ``*_env`` keys name environment variables.  Paths
are relative to the config file's folder.

Convention: one module per area holds its tables (:mod:`.process`, :mod:`.office`,
:mod:`.channels`, :mod:`.web`), :mod:`.model` joins them into :class:`Config`, and
:mod:`.loader` reads and validates the file.  Import every name from this package
(``from gateway.core.config import Config``), not from the modules.
"""

from gateway.core.config.base import ConfigError, Section
from gateway.core.config.channels import (
    AgiSection,
    AmiSection,
    CallbackSection,
    EmailOutbound,
    EmailSection,
    GenericSmsSection,
    ImapMailbox,
    KannelSection,
    KavenegarSection,
    SmsSection,
    SmtpAlias,
    SmtpSection,
    VoiceSection,
)
from gateway.core.config.inbound import inbound_problems
from gateway.core.config.loader import DEFAULT_CONFIG, load_config, parse_config
from gateway.core.config.model import Config
from gateway.core.config.office import (
    DEFAULT_SLA_DAYS,
    RoutingRule,
    RoutingSection,
    Service,
    SlaSection,
    SurveySection,
    Unit,
)
from gateway.core.config.oversight import (
    CalendarSection,
    EscalationSection,
    ExternalBody,
    OversightSection,
    RetentionSection,
    SchedulerSection,
)
from gateway.core.config.portal import DirectoryEntry, PortalSection
from gateway.core.config.process import GatewaySection, IntakeSection, LoggingSection, OutboxSection
from gateway.core.config.web import HttpSection, Open311Section, StaffSection, WebhookListener, WebSection

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_SLA_DAYS",
    "AgiSection",
    "AmiSection",
    "CalendarSection",
    "CallbackSection",
    "Config",
    "EscalationSection",
    "ExternalBody",
    "OversightSection",
    "RetentionSection",
    "SchedulerSection",
    "DirectoryEntry",
    "PortalSection",
    "ConfigError",
    "EmailOutbound",
    "EmailSection",
    "GatewaySection",
    "GenericSmsSection",
    "HttpSection",
    "ImapMailbox",
    "IntakeSection",
    "KannelSection",
    "KavenegarSection",
    "LoggingSection",
    "Open311Section",
    "OutboxSection",
    "RoutingRule",
    "RoutingSection",
    "Section",
    "Service",
    "SlaSection",
    "SmsSection",
    "SmtpAlias",
    "SmtpSection",
    "StaffSection",
    "SurveySection",
    "Unit",
    "VoiceSection",
    "WebhookListener",
    "WebSection",
    "inbound_problems",
    "load_config",
    "parse_config",
]
