"""Every status a record can be in, and the sets of them the code asks about: one definition each.

Plain tuples with no imports, so the engine, the models, storage and the dashboard can all use them.
"""

# ---- tips ----------------------------------------------------------------------------------------

TIP_STATUSES = ("new", "triaged", "escalated", "acknowledged", "closed", "spam")
OPEN_STATUSES = ("new", "triaged", "escalated")  # an immediate-danger tip in these is pinned on top
CLOSED_STATUSES = ("closed", "spam")  # nothing more is sent about the tip, and its contact address goes

# An urgent tip reached a partner, only the on-call number, nobody ("unrouted": no partner matches and
# no on-call number is set), or the attempt broke ("failed": an error, or every message failed).
ROUTINGS = ("partner", "oncall", "unrouted", "failed")
NOBODY = ("unrouted", "failed")
PASSED_ON = ("partner", "oncall")

# ---- the outbox ----------------------------------------------------------------------------------

# not_sent: there was no account to send with (no TWILIO_ACCOUNT_SID): nobody received it.
OUTBOX_STATUSES = ("pending", "sending", "sent", "not_sent", "failed", "dead", "cancelled")
OUTBOX_WAITING = ("pending", "sending")  # the worker has still to send these
DEAD_LETTERS = ("failed", "dead")  # what the outbox page offers to send again
NOT_RECEIVED = ("failed", "dead", "not_sent")  # the message reached nobody
OUTBOX_SETTLED = ("sent", "not_sent", "failed", "dead", "cancelled")  # nothing more happens to these

# done: an operator confirmed the partner's outcome; cancelled: the tip was closed before an answer.
ESCALATION_STATUSES = ("sent", "acknowledged", "done", "timed_out", "cancelled")

# ---- community -----------------------------------------------------------------------------------

IDEA_STATUSES = ("new", "considered", "done")
BROADCAST_STATUSES = ("draft", "scheduled", "sending", "sent", "cancelled")
BROADCAST_CANCELLABLE = ("draft", "scheduled")  # the worker has not started it
POLL_STATUSES = ("open", "closed")

# ---- accounts ------------------------------------------------------------------------------------

USER_ROLES = ("admin", "operator", "partner")
STAFF_ROLES = ("admin", "operator")
