"""``python -m prestorepro.forecast``: the forecast of a configured run from a measured one (see the
package's docstring)."""
from __future__ import annotations

import argparse
from pathlib import Path

from prestorepro.forecast import __doc__ as DOC
from prestorepro.forecast.dag import ROOT
from prestorepro.forecast.report import forecast, to_markdown
from prestorepro.io import write_json, write_text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=DOC.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configfile", required=True, help="the run to forecast (e.g. config/paper.yaml)")
    ap.add_argument("--measured-config", required=True, help="the config of the finished, measured run")
    ap.add_argument("--measured", required=True, help="the measured run's results directory")
    ap.add_argument("--out", default=None, help="directory for forecast.json / forecast.md (default: print)")
    ap.add_argument("--bandwidth-mb-s", type=float, default=10.0, help="assumed download speed")
    ap.add_argument("--workdir", default=str(ROOT),
                    help="the workflow's directory, where the measured run ran (its .snakemake/ holds the job times)")
    a = ap.parse_args(argv)
    fc = forecast(a.configfile, a.measured_config, a.measured, bandwidth_mb_s=a.bandwidth_mb_s, cwd=Path(a.workdir))
    md = to_markdown(fc)
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "forecast.json", fc)
        write_text(out / "forecast.md", md)
    print(md)
    return 0




if __name__ == "__main__":
    raise SystemExit(main())
