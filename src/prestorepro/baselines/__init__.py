"""The methods PRESTO is compared against (paper §4, App. B.4–B.5)."""
