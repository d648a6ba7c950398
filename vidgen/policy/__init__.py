"""The content policy: `check(prompt) -> Decision(allowed, category, ...)`, offline."""

from vidgen.policy.policy import Decision, Policy, check, check_many, default_policy

__all__ = ["Decision", "Policy", "check", "check_many", "default_policy"]
