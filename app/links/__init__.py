"""Links of the content plan: UTM tagging at publish time, short links and their click counts (issue 13.6/13.7)."""
