"""Actions: every change of state, with its rules and its record.

Each action is a function taking who acts (an `Actor`) and checked input; it makes the change and
writes its audit entry (and a tip's timeline) in the caller's transaction, so a change never exists
without its record (Zulip's `do_*` functions). The dashboard, the command line and the partners' SMS
commands are adapters: they parse, call an action, and say its outcome or its refusal in their own words.

- `tips`: a tip's status machine and case work (triage, close, duplicates, notes, assignment, escalation,
  partners' replies).
- `partners`: add, change and deactivate partners, with the one validation the CLI and the dashboard share.
- `followups`: asking a reporter a question, and when that is refused.
- `community`: drafting, scheduling and cancelling broadcasts, creating and closing polls and drafting their
  results, the lesson of the week, an idea's status.
- `outbox`: sending a failed or dead message again.
"""

from .base import COMMAND_LINE, REPORTER, SYSTEM, Actor, Refused, audit

__all__ = ["COMMAND_LINE", "REPORTER", "SYSTEM", "Actor", "Refused", "audit"]
