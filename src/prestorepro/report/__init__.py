"""Tables and figures, built from metrics files only (never re-training anything)."""
