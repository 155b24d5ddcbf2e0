"""Score smtpcore.dsn's parse + classify on the DSN corpus against its published answers.

    python benchmarks/dsn_score.py [CORPUS_DIR] [--failures N] [--show FILE]

CORPUS_DIR defaults to ../shared/dsn-corpus beside the repository checkout. Records are matched
to recipients by index; a file is "whole" when every asserted field of every record matches
and the recipient count agrees. Records with ``sisimai_status`` (Sisimai's private pseudo codes)
do not assert a status.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

from smtpcore import dsn

FIELDS = ("status", "reply_code", "reason", "hardbounce", "feedback_type")


def default_corpus() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "dsn-corpus"


def load(corpus: Path) -> dict[str, tuple[dict[str, object], list[dict[str, object]]]]:
    files: dict[str, tuple[dict[str, object], list[dict[str, object]]]] = {}
    with (corpus / "expectations.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec.get("type") == "file":
                files[rec["file"]] = (rec, [])
            else:
                files[rec["file"]][1].append(rec)
    for _, records in files.values():
        records.sort(key=lambda r: int(r["index"]))
    return files


def actual(path: Path) -> tuple[str | None, list[dict[str, object]]]:
    report = dsn.parse(path.read_bytes())
    if report is None:
        return None, []
    rows = []
    for rcpt in report.recipients:
        cls = dsn.classify(rcpt, report)
        rows.append(
            {
                "status": None if rcpt.status is None else str(rcpt.status),
                "reply_code": None if rcpt.reply_code is None else str(rcpt.reply_code),
                "reason": cls.reason,
                "hardbounce": cls.hard,
                "feedback_type": report.feedback_type,
                "address": rcpt.address,
                "diagnostic": rcpt.diagnostic_code.text if rcpt.diagnostic_code else None,
                "source": cls.source,
            }
        )
    return report.kind, rows


def compare(expected: dict[str, object], got: dict[str, object] | None) -> list[str]:
    """The asserted fields that differ."""
    wrong = []
    for field in FIELDS:
        if field not in expected:
            continue
        want = expected[field]
        if field == "status" and want is None and "sisimai_status" in expected:
            continue
        if field == "feedback_type" and want is None:
            continue
        have = None if got is None else got.get(field)
        if want != have:
            wrong.append(field)
    return wrong


def score(corpus: Path) -> dict[str, object]:
    files = load(corpus)
    per_field = collections.Counter()
    per_field_total = collections.Counter()
    whole = 0
    count_ok = 0
    failures: dict[str, list[str]] = collections.defaultdict(list)
    details: dict[str, list[tuple[str, object, object]]] = {}
    for name, (meta, records) in sorted(files.items()):
        _kind, rows = actual(corpus / name)
        ok = True
        if len(rows) == int(meta["recipient_count"]):
            count_ok += 1
        else:
            ok = False
            failures["recipient count"].append(name)
        diffs = []
        for i, rec in enumerate(records):
            got = rows[i] if i < len(rows) else None
            wrong = compare(rec, got)
            for field in FIELDS:
                if field in rec and not (field == "status" and "sisimai_status" in rec):
                    if field == "feedback_type" and rec[field] is None:
                        continue
                    per_field_total[field] += 1
                    if field not in wrong:
                        per_field[field] += 1
            for field in wrong:
                ok = False
                want = rec.get(field)
                have = None if got is None else got.get(field)
                failures[f"{field}"].append(name)
                diffs.append((field, want, have))
        details[name] = diffs
        whole += ok
    return {
        "files": len(files),
        "whole": whole,
        "count_ok": count_ok,
        "per_field": per_field,
        "per_field_total": per_field_total,
        "failures": failures,
        "details": details,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="?", type=Path, default=default_corpus())
    ap.add_argument("--failures", type=int, default=0, help="list up to N failing files per field")
    ap.add_argument("--show", help="print parse results for one corpus file")
    args = ap.parse_args(argv)
    if not (args.corpus / "expectations.jsonl").exists():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    if args.show:
        kind, rows = actual(args.corpus / args.show)
        files = load(args.corpus)
        print("kind:", kind)
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        for rec in files[args.show][1]:
            print("want:", {k: rec.get(k) for k in (*FIELDS, "sisimai_status") if k in rec})
        return 0
    result = score(args.corpus)
    files = result["files"]
    whole = result["whole"]
    print(f"files whole: {whole}/{files} ({100 * whole / files:.1f} %)")
    print(f"recipient count right: {result['count_ok']}/{files}")
    for field in FIELDS:
        total = result["per_field_total"][field]
        if total:
            right = result["per_field"][field]
            print(f"  {field:14s} {right}/{total} ({100 * right / total:.1f} %)")
    confusions = collections.Counter(
        (want, have)
        for diffs in result["details"].values()
        for field, want, have in diffs
        if field == "reason"
    )
    if confusions:
        print("reason confusions (expected -> parsed, records):")
        for (want, have), n in confusions.most_common(12):
            print(f"  {want} -> {have}: {n}")
    print("failure classes (files):")
    for field, names in sorted(result["failures"].items(), key=lambda kv: -len(kv[1])):
        print(f"  {field:16s} {len(set(names))}")
        for name in sorted(set(names))[: args.failures]:
            diffs = [d for d in result["details"][name] if d[0] == field]
            print(f"      {name} {diffs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
