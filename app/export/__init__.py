"""The plan leaving the service: CSV/XLSX export (readable by the plan import) and the iCalendar feed."""
