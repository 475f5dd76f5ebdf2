"""Prints the SHA-256 of an HDFS file read through HdfsCLI. Usage: hdfs_sha.py URL PATH"""
import hashlib
import sys

from hdfs import InsecureClient

h = hashlib.sha256()
with InsecureClient(sys.argv[1], user="student").read(sys.argv[2], chunk_size=1 << 20) as r:
    for chunk in r:
        h.update(chunk)
print(h.hexdigest())
