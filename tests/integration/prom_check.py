"""Parse a Prometheus text exposition (format 0.0.4) with the official
client's parser (Debian: python3-prometheus-client), check what a scraper
relies on beyond the syntax, and print every sample as a JSON line:
{"name", "labels", "value"}. Exits 1, saying why, on anything wrong.

    prom_check.py FILE
"""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def fail(why):
    print(f"prom_check: {why}", file=sys.stderr)
    sys.exit(1)


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    if not text.endswith("\n"):
        fail("the exposition does not end with a newline")
    # The format's own rules the parser lets through: each family's HELP
    # and TYPE once, before its samples, and its samples together.
    seen_type, current = set(), None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# TYPE "):
            name = line.split()[2]
            if name in seen_type:
                fail(f"line {n}: a second TYPE for {name}")
            seen_type.add(name)
            current = name
        elif line.startswith("#"):
            continue
        elif not line:
            fail(f"line {n}: an empty line")
        else:
            base = line.split("{")[0].split(" ")[0]
            if current is None or not (base == current or base.startswith(current + "_")):
                fail(f"line {n}: sample {base} outside its family ({current})")
    families = list(text_string_to_metric_families(text))
    names = [f.name for f in families]
    if len(names) != len(set(names)):
        fail(f"families named twice: {names}")
    for f in families:
        if f.type == "unknown":
            fail(f"{f.name} has no TYPE")
        if not f.name.startswith("cinderfs_"):
            fail(f"{f.name} is not cinderfs_...")
        if f.type == "counter":
            for s in f.samples:
                if s.value < 0:
                    fail(f"counter {s.name} is negative")
        if f.type == "histogram":
            series = {}
            for s in f.samples:
                key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                series.setdefault(key, {})[s.name.rsplit("_", 1)[1] if not s.name.endswith("_bucket") else "bucket:" + s.labels["le"]] = s.value
            for key, parts in series.items():
                buckets = sorted(((float(k[7:]), v) for k, v in parts.items() if k.startswith("bucket:")))
                if not buckets or not math.isinf(buckets[-1][0]):
                    fail(f"{f.name}{dict(key)} has no +Inf bucket")
                counts = [v for _, v in buckets]
                if counts != sorted(counts):
                    fail(f"{f.name}{dict(key)}: buckets are not cumulative: {buckets}")
                if parts.get("count") != counts[-1]:
                    fail(f"{f.name}{dict(key)}: _count {parts.get('count')} is not the +Inf bucket {counts[-1]}")
        for s in f.samples:
            print(json.dumps({"name": s.name, "labels": s.labels, "value": s.value}))


main()
