#!/usr/bin/env python3
"""Classifies `perf script` samples of one process by thread and by what the stack is doing.

usage: perf script -i perf.data | python3 benchmark/tools/perf-classify.py
(record with: perf record -F 499 -g -p PID, node started with --perf-basic-prof)
"""
import re
import sys
from collections import Counter, defaultdict

RULES = [
    ("JSON.parse", re.compile(r"JsonParse|JsonParser")),
    ("JSON.stringify", re.compile(r"JsonStringif")),
    ("napi string create (UTF-8 -> V8)", re.compile(r"napi_create_string|Utf8Decoder|NewFromUtf8")),
    ("V8 string -> UTF-8 (write/Buffer.from)", re.compile(r"WriteUtf8|Utf8Length")),
    ("GC", re.compile(r"Scaveng|MarkCompact|Sweeper|ConcurrentMarking|Heap::CollectGarbage|MinorMarkCompact")),
    ("etag sha1", re.compile(r"sha1_|SHA1")),
    ("serde_json (Rust)", re.compile(r"serde_json")),
    ("reqwest/hyper/tokio (Rust HTTP)", re.compile(r"hyper|reqwest|h2::|tokio::|mio::")),
    ("forcelink (Rust, other)", re.compile(r"forcelink::")),
    ("napi glue", re.compile(r"napi_|napi::")),
    ("express/router (JS)", re.compile(r"express|/router/|body-parser|send/index|etag/index")),
    ("autocannon (JS)", re.compile(r"autocannon")),
    ("axios (JS)", re.compile(r"axios")),
    ("node http/net/streams (JS)", re.compile(r"node:_http|node:net|node:internal/streams|_http_|node:stream|llhttp|node::http|StreamBase|LibuvStreamWrap")),
    ("kernel", re.compile(r"\[kernel|entry_SYSCALL|do_syscall")),
]

samples = []
cur = None
for line in sys.stdin:
    if not line.strip():
        if cur:
            samples.append(cur)
        cur = None
        continue
    if not line.startswith((" ", "\t")):
        m = re.match(r"\s*(\S.*?)\s+(\d+)/(\d+)\s", line) or re.match(r"\s*(\S.*?)\s+(\d+)\s", line)
        comm = m.group(1) if m else "?"
        tid = m.group(3) if m and m.lastindex >= 3 else (m.group(2) if m else "?")
        cur = {"comm": comm, "tid": tid, "frames": []}
    elif cur is not None:
        cur["frames"].append(line.strip())
if cur:
    samples.append(cur)

by_thread = Counter((s["comm"], s["tid"]) for s in samples)
total = len(samples)
print(f"{total} samples")
main_tid = None
for (comm, tid), n in by_thread.most_common(8):
    print(f"  {n:6d} {100*n/total:5.1f}%  {comm} tid {tid}")
    if comm == "node" and main_tid is None:
        main_tid = tid

def classify(frames):
    text = "\n".join(frames)
    for name, rx in RULES:
        if rx.search(text):
            return name
    return "other"

for label, pick in (("main JS thread", lambda s: s["tid"] == main_tid), ("all other threads", lambda s: s["tid"] != main_tid)):
    sub = [s for s in samples if pick(s)]
    if not sub:
        continue
    c = Counter(classify(s["frames"]) for s in sub)
    print(f"\n{label}: {len(sub)} samples ({100*len(sub)/total:.1f}% of all)")
    for k, n in c.most_common():
        print(f"  {n:6d} {100*n/len(sub):5.1f}%  {k}")
