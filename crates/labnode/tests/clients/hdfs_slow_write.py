"""Writes a file through HdfsCLI in two halves, pausing between them so the test can kill a
datanode mid-write; then reads it back. Protocol on stdio: prints `half` after the first half,
waits for a line on stdin, finishes, prints one JSON line {"written": sha, "read": sha}.

Usage: hdfs_slow_write.py URL HDFS_PATH MB
"""
import hashlib
import json
import os
import sys

from hdfs import InsecureClient

url, path, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = InsecureClient(url, user="student")
written = hashlib.sha256()


def chunks():
    for i in range(mb * 4):
        if i == mb * 2:
            print("half", flush=True)
            sys.stdin.readline()
        chunk = os.urandom(256 * 1024)
        written.update(chunk)
        yield chunk


c.write(path, data=chunks())
read = hashlib.sha256()
with c.read(path, chunk_size=1 << 20) as r:
    for chunk in r:
        read.update(chunk)
print(json.dumps({"written": written.hexdigest(), "read": read.hexdigest()}), flush=True)
