"""Domain logic and SQL, one module per domain concept; nothing here knows Slack.

Importing any service registers the ORM bookkeeping that keeps derived rows in
step with the chats in the same flush (`usage`: each person's chat counts;
`expert_ranks`: search's precomputed ranking, also kept by profile changes), so
whatever writes chats or profiles through a service has it.
"""

from bot.services import expert_ranks as _ranks  # noqa: F401  (registers its flush hook on import)
from bot.services import usage as _usage  # noqa: F401  (registers its flush hooks on import)
from bot.services.reports import rollups as _rollups  # noqa: F401  (registers its marks on import)
