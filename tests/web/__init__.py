"""Tests of the web site: pages, /healthz, settings, through Django's test client."""
