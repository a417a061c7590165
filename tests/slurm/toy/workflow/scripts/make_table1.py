"""Collects the toy metrics into one table."""
import datetime
import json

rows = []
for path in snakemake.input:
    with open(path) as f:
        m = json.load(f)
    rows.append({"dataset": m["dataset"], "seed": m["seed"], "inertia": m["inertia"]})
table = {
    "rows": rows,
    "provenance": {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
}
with open(snakemake.output[0], "w") as f:
    json.dump(table, f, indent=1)
