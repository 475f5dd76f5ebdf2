"""Reads every committed file of a topic under a topics dir through HdfsCLI and prints JSON:
{"files": {"partition=0": [names…]}, "lines": {"partition=0": [lines…]}, "tmp": [leftovers]}.

Usage: hdfs_sink_check.py URL TOPICS_DIR TOPIC
"""
import json
import sys

from hdfs import InsecureClient

url, topics_dir, topic = sys.argv[1:4]
c = InsecureClient(url, user="checker")
out = {"files": {}, "lines": {}}
base = f"{topics_dir}/{topic}"
for part in sorted(c.list(base) if c.status(base, strict=False) else []):
    names = sorted(c.list(f"{base}/{part}"))
    out["files"][part] = names
    lines = []
    for name in names:
        with c.read(f"{base}/{part}/{name}", encoding="utf-8") as r:
            lines.extend(r.read().splitlines())
    out["lines"][part] = lines
print(json.dumps(out))
