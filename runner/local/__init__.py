"""Real PostgreSQL on a laptop or in CI: the project-local dev database and throwaway clusters."""
