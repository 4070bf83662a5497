"""The read side: fleet status, org tree, latest values, series, events and gaps, all scoped."""

from .fleet import org_tree, plant_statuses
from .records import list_events, list_gaps
from .scope import Scope, plant_in_scope, point_in_scope, scope_for
from .series import BUCKET_US, BucketName, latest_values, list_points, series

__all__ = [
    "BUCKET_US",
    "BucketName",
    "Scope",
    "latest_values",
    "list_events",
    "list_gaps",
    "list_points",
    "org_tree",
    "plant_in_scope",
    "plant_statuses",
    "point_in_scope",
    "scope_for",
    "series",
]
