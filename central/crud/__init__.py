"""Keyword-only CRUD functions, one module per topic; each takes an open session and leaves
committing to the caller, so a route or a CLI command can do several in one transaction.

- :mod:`.registry`: regions, plants, agents, users and their login tokens.
- :mod:`.commands`: the agents' command queue.
- :mod:`.accounts`: who is calling (users and API tokens), locks and unlocks, API tokens.
- :mod:`.audit`: the append-only access audit and the export guard.
- :mod:`.people`: personnel and qualifications, and their lists for the edge.
- :mod:`.alarms`: actions on alarms, sent to the plant's agent, and central comments.
- :mod:`.org`: plant settings, classifications and extension fields.
"""

from .commands import command_status, enqueue_command
from .registry import (
    AgentContext,
    agent_for_token,
    authenticate,
    check_scope,
    create_agent,
    create_user,
    get_or_create_plant,
    get_or_create_region,
    issue_user_token,
    revoke_user_token,
    user_for_token,
)

__all__ = [
    "AgentContext",
    "agent_for_token",
    "authenticate",
    "check_scope",
    "command_status",
    "create_agent",
    "create_user",
    "enqueue_command",
    "get_or_create_plant",
    "get_or_create_region",
    "issue_user_token",
    "revoke_user_token",
    "user_for_token",
]
