"""Tests of the classroom host (scripts/classroom) with Debian's real services."""
