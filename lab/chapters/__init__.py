"""Per-chapter glue: parameter specs and the tables/figures a chapter shows, built on the rest of lab."""
