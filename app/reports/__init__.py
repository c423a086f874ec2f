"""Raw-SQL report pages at /reports/: each report is a .sql file with bound
parameters, a filter form, a table, an inline SVG chart and a CSV download."""
