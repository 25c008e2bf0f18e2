"""Goals and KPIs (issue 13.8): a metric, a target, a deadline, a channel or all; progress from collected numbers."""
