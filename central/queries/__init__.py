"""The read side: fleet status, org tree, latest values, series, events and gaps, alarms, KPIs,
plant overviews, personnel and the audit log, all scoped."""

from .alarms import STATES_OF, StateFilter, alarm_notes, alarm_rows, list_alarms
from .audit import list_audit
from .fleet import org_tree, plant_statuses
from .fleetview import TARGETS, fleet_overview
from .kpi import BETTER, Period, kpi_numbers
from .overview import live_status, plant_overview
from .personnel import list_people, person_public, qualifications_of
from .records import list_events, list_gaps
from .scope import Scope, plant_in_scope, point_in_scope, scope_for
from .series import BUCKET_US, BucketName, latest_values, list_points, series

__all__ = [
    "BETTER",
    "BUCKET_US",
    "STATES_OF",
    "TARGETS",
    "BucketName",
    "Period",
    "Scope",
    "StateFilter",
    "alarm_notes",
    "alarm_rows",
    "fleet_overview",
    "kpi_numbers",
    "latest_values",
    "list_alarms",
    "list_audit",
    "list_events",
    "list_gaps",
    "list_people",
    "list_points",
    "live_status",
    "org_tree",
    "person_public",
    "plant_in_scope",
    "plant_overview",
    "plant_statuses",
    "point_in_scope",
    "qualifications_of",
    "scope_for",
    "series",
]
