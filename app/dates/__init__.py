"""Dates that matter to the plan: the country's public holidays and the workspace's own significant dates."""
