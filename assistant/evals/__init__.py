"""Scoring the assistant: the gold set, the SQuAD harness, reports."""
