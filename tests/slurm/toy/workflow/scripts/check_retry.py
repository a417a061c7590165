"""Fails on the first attempt and succeeds on the second (exercises `retries`)."""
import json
import sys

attempt = snakemake.resources.attempt_number
with open(snakemake.log[0], "w") as f:
    f.write(f"attempt={attempt}\n")
if attempt < 2:
    sys.exit(f"check_retry fails on purpose on attempt {attempt}")
with open(snakemake.output[0], "w") as f:
    json.dump({"attempt": attempt}, f)
