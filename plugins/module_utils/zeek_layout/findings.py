"""Findings collected while laying out or checking a cluster: each a level, a rule and a message."""

from __future__ import annotations


class Findings:
    def __init__(self):
        self.items = []

    def add(self, level, rule, message, **where):
        self.items.append({"level": level, "rule": rule, "message": message, **where})

    def error(self, rule, message, **where):
        self.add("error", rule, message, **where)

    def warn(self, rule, message, **where):
        self.add("warning", rule, message, **where)
