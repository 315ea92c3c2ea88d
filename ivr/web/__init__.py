"""The manager console: flows (edit, try, publish, roll back) and calls (review, dashboard)."""
