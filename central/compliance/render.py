"""The compliance report as CSV (one row per point-day, then the readings behind each
exceedance) or as one printable HTML page with no external assets (inline CSS, no scripts)."""

from __future__ import annotations

import csv
import io
from html import escape

from central.models import Ledger

CSV_HEADER = [
    "record",
    "plant",
    "point",
    "device",
    "device_serial",
    "quantity",
    "unit",
    "date",
    "samples",
    "values",
    "mean",
    "max",
    "twa_limit",
    "ceiling_limit",
    "breaches",
    "exceedances",
    "ts",
    "value",
    "quality",
    "calibration_due",
    "calibration_overdue",
    "limit",
    "coverage",
    "judged",
]
"""Rows: ``day`` (a point-day), ``exceedance_reading`` (a raw reading behind an exceedance),
``exceedance_thinned`` (a thinned minute behind one: ``ts`` its start, ``samples`` its count,
``mean`` and ``max`` its own), ``exposure`` (an agent's exposure alarm or shift report: ``breaches``
its kind, ``value`` and ``limit`` its figures)."""


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def ledger_csv(ledger: Ledger) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for p in ledger.points:
        twa = next((lim.value for lim in p.limits if lim.kind == "twa"), None)
        ceiling = next((lim.value for lim in p.limits if lim.kind == "ceiling"), None)
        for d in p.days:
            w.writerow(
                ["day", ledger.plant, p.point, p.device, p.device_serial or "", p.quantity, p.unit,
                 d.date, d.samples, d.values, _num(d.mean), _num(d.max), _num(twa), _num(ceiling),
                 ";".join(d.breaches), d.exceedances, "", "", "", p.calibration_due or "", "",
                 "", "", ""]
            )  # fmt: skip
    for e in ledger.exceedances:
        for r in e.readings:
            w.writerow(
                ["exceedance_reading", ledger.plant, e.point, e.device, e.device_serial or "",
                 "", e.unit, e.date, "", "", "", "", "", "", e.kind, "", r.ts, _num(r.value),
                 r.quality, e.calibration_due or "",
                 "" if r.calibration_overdue is None else str(r.calibration_overdue).lower(),
                 _num(e.limit), "", ""]
            )  # fmt: skip
        for a in e.thinned:
            w.writerow(
                ["exceedance_thinned", ledger.plant, e.point, e.device, e.device_serial or "",
                 "", e.unit, e.date, a.count, "", _num(a.mean), _num(a.max), "", "", e.kind, "",
                 a.from_ts, _num(a.max), a.quality, e.calibration_due or "",
                 "" if a.calibration_overdue is None else str(a.calibration_overdue).lower(),
                 _num(e.limit), "", ""]
            )  # fmt: skip
    for f in ledger.exposure_findings:
        w.writerow(
            ["exposure", ledger.plant, f.point, f.device, f.device_serial or "", "", f.unit,
             f.date, "", "", "", "", "", "", f.kind, int(f.exceeded), f.ts, _num(f.value), "",
             "", "", _num(f.limit), _num(f.coverage), f.judged]
        )  # fmt: skip
    return out.getvalue()


STYLE = """
body { font: 11pt/1.4 sans-serif; margin: 2em; color: #111; }
h1 { font-size: 16pt; margin: 0 0 .2em; } h2 { font-size: 13pt; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 1em; }
th, td { border: 1px solid #999; padding: 2px 6px; text-align: left; font-size: 9.5pt; }
th { background: #eee; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.breach { background: #fdd; font-weight: bold; } .ok { color: #060; } .bad { color: #a00; }
.meta td { border: none; padding: 0 1em 0 0; }
@media print { body { margin: 0; } h2 { page-break-after: avoid; } tr { page-break-inside: avoid; } }
"""


def ledger_html(ledger: Ledger, *, generated_at: str, generated_by: str) -> str:
    e = escape
    ls = ledger.limit_set
    status = ("", "not evaluated")
    if ledger.compliant is not None:
        status = ("ok", "compliant") if ledger.compliant else ("bad", "NOT compliant")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Compliance report {e(ledger.plant)} {e(ledger.start[:10])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Exposure compliance report: plant {e(ledger.plant)}</h1>",
        "<table class='meta'>",
        f"<tr><td>Region</td><td>{e(ledger.region)}</td></tr>",
        f"<tr><td>Period</td><td>{e(ledger.start)} to {e(ledger.end)} ({ledger.days} local "
        f"days, {e(ledger.timezone)})</td></tr>",
        "<tr><td>Limit set</td><td>"
        + (
            f"{e(ls.name)} ({e(ls.id)}, {e(ls.jurisdiction)}, {ls.molar_volume_l:g} L/mol)"
            if ls
            else "none"
        )
        + "</td></tr>",
        f"<tr><td>Result</td><td class='{status[0]}'>{status[1]}: "
        f"{ledger.exceedance_count} exceedance(s) in the daily figures, "
        f"{ledger.exposure_exceedance_count} exposure limit(s) exceeded as judged by the "
        "agents</td></tr>",
        f"<tr><td>Basis</td><td>TWA limits against the day's mean; ceiling/MAC against the "
        f"day's maximum; {e(ledger.computed)}</td></tr>",
        f"<tr><td>Generated</td><td>{e(generated_at)} by {e(generated_by)}</td></tr>",
        "</table>",
    ]
    for p in ledger.points:
        limits = "; ".join(
            f"{lim.kind.upper()} {lim.value:.4g} {e(lim.unit)} ({lim.basis}; "
            f"{lim.native_value:g} {e(lim.native_unit)}, {e(lim.source)})"
            for lim in p.limits
        )
        parts.append(
            f"<h2>{e(p.point)}</h2><p>{e(p.quantity)} in {e(p.unit)}; device {e(p.device)}, "
            f"serial {e(p.device_serial or '-')}, calibration due {e(p.calibration_due or '-')}"
            f"<br>Limits: {limits}</p>"
        )
        parts.append(
            "<table><tr><th>date</th><th>samples</th><th>values</th><th>mean</th><th>max</th>"
            "<th>breaches</th><th>exceedances</th></tr>"
        )
        for d in p.days:
            cls = " class='breach'" if d.breaches else ""
            parts.append(
                f"<tr{cls}><td>{e(d.date)}</td><td class='n'>{d.samples}</td>"
                f"<td class='n'>{d.values}</td><td class='n'>{_num(d.mean)}</td>"
                f"<td class='n'>{_num(d.max)}</td><td>{e(', '.join(d.breaches))}</td>"
                f"<td class='n'>{d.exceedances}</td></tr>"
            )
        parts.append("</table>")
    if ledger.exceedances:
        parts.append("<h2>Exceedances and the readings behind them</h2>")
        for x in ledger.exceedances:
            more = " (first ones listed)" if x.readings_truncated else ""
            parts.append(
                f"<p><b>{e(x.point)}</b> {e(x.date)}: {e(x.kind.upper())} {x.limit:.4g} "
                f"{e(x.unit)} ({e(x.basis)}) observed {x.observed:.4g}; {x.readings_over} "
                f"reading(s) above{more}; device serial {e(x.device_serial or '-')}, "
                f"calibration {e(x.calibration_status)} (due {e(x.calibration_due or '-')})</p>"
                "<table><tr><th>time (UTC)</th><th>value</th><th>quality</th>"
                "<th>calibration overdue</th></tr>"
            )
            for r in x.readings:
                parts.append(
                    f"<tr><td>{e(r.ts)}</td><td class='n'>{_num(r.value)}</td>"
                    f"<td>{e(r.quality)}</td><td>{e(str(r.calibration_overdue).lower())}</td></tr>"
                )
            parts.append("</table>")
            if x.thinned:
                more = " (first ones listed)" if x.thinned_truncated else ""
                parts.append(
                    f"<p>{x.thinned_over} minute(s) the agent thinned (outbox short of disk) "
                    f"with a maximum above the limit{more}:</p><table><tr><th>from (UTC)</th>"
                    "<th>to</th><th>readings</th><th>min</th><th>mean</th><th>max</th>"
                    "<th>quality</th><th>calibration overdue</th></tr>"
                )
                for a in x.thinned:
                    parts.append(
                        f"<tr><td>{e(a.from_ts)}</td><td>{e(a.to_ts)}</td>"
                        f"<td class='n'>{a.count}</td><td class='n'>{_num(a.min)}</td>"
                        f"<td class='n'>{_num(a.mean)}</td><td class='n'>{_num(a.max)}</td>"
                        f"<td>{e(a.quality)}</td>"
                        f"<td>{e(str(a.calibration_overdue).lower())}</td></tr>"
                    )
                parts.append("</table>")
    if ledger.exposure_findings:
        more = " (the first ones)" if ledger.exposure_findings_truncated else ""
        parts.append(
            "<h2>Exposure as judged by the agents</h2><p>STEL (rolling 15 min), shift TWA and "
            "noise dose are computed by each plant's agent from every reading; these are the "
            f"alarms it raised and its end-of-shift reports{more}.</p><table><tr><th>time (UTC)"
            "</th><th>local date</th><th>point</th><th>kind</th><th>judged</th><th>value</th>"
            "<th>limit</th><th>coverage</th><th>message</th></tr>"
        )
        for f in ledger.exposure_findings:
            cls = " class='breach'" if f.exceeded else ""
            cov = "" if f.coverage is None else f"{f.coverage:.0%}"
            parts.append(
                f"<tr{cls}><td>{e(f.ts)}</td><td>{e(f.date)}</td><td>{e(f.point)}</td>"
                f"<td>{e(f.kind)}</td><td>{e(f.judged)}</td><td class='n'>{_num(f.value)}</td>"
                f"<td class='n'>{_num(f.limit)} {e(f.unit)}</td><td class='n'>{cov}</td>"
                f"<td>{e(f.message)}</td></tr>"
            )
        parts.append("</table>")
    if ledger.not_evaluated:
        parts.append("<h2>Not evaluated</h2><ul>")
        for n in ledger.not_evaluated:
            parts.append(f"<li>{e(n.point or '*')} ({e(n.quantity)}): {e(n.reason)}</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = ["CSV_HEADER", "ledger_csv", "ledger_html"]
