"""Hostile submissions for the standing attack suite (tests/graders/test_attacks.py): see catalog.py."""
