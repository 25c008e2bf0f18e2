"""Planning with the analyzer: the best free slot for a post (``scheduled_at: "auto"``) and filling a plan."""
