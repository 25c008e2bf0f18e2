"""Rubrics: the workspace's content categories, their colours and their target share of the plan."""
