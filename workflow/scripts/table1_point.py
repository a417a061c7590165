# Adapter: a Table-1 run as a point of the compress stage (Table 2, Fig. 3/8): PRESTO at K, the one model.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.compress import table1_point
from prestorepro.jobs.specs import Table1PointJob

run_script(snakemake, Table1PointJob, table1_point)
