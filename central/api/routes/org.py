"""``/api/v1/org``: the org tree in the caller's scope (region -> plant -> area, with counts)."""

from __future__ import annotations

from fastapi import APIRouter

from central.api.deps import API_PREFIX, SessionDep, StateDep, UserScope
from central.models import OrgTree
from central.queries import org_tree

router = APIRouter(prefix=API_PREFIX, tags=["org"])


@router.get("/org", response_model=OrgTree)
def org(state: StateDep, scope: UserScope, session: SessionDep) -> OrgTree:
    return org_tree(session, scope, max_plants=state.settings.max_query_limit)
