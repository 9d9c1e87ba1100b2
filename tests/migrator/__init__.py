"""Tests of the migrator role (`aurora-migrate bootstrap-migrator`) on real PostgreSQL."""
