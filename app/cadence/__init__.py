"""Cadence and conflict checks of the content plan (issue 13.9): warnings, never refusals."""
