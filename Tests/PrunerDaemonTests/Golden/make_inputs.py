#!/usr/bin/env python3
"""Derives the golden runs' inputs from the shipped sample (Samples/docstrings-8k.prn1.lz4).

Writes into OUT_DIR:
  concept.prn1.lz4   the same records sorted by module path (stable): a crawl that
                     emits one module at a time, the concept-ordered stream;
  part1.prn1.lz4     the sample's first half, part2.prn1.lz4 its second half:
                     a run stopped after part 1 and restarted from its checkpoint on part 2.

Records are copied byte for byte; only their order and grouping change.
Usage: make_inputs.py SAMPLE OUT_DIR
"""
import struct
import sys

import lz4.frame


def records(data):
    offset = 0
    while offset < len(data):
        if data[offset:offset + 4] != b"PRN1":
            raise SystemExit(f"bad PRN1 magic at byte {offset}")
        (length,) = struct.unpack_from("<I", data, offset + 4)
        id_length = struct.unpack_from("<H", data, offset + 12)[0]
        record_id = data[offset + 14:offset + 14 + id_length].decode()
        yield record_id, data[offset:offset + 8 + length]
        offset += 8 + length


def write(path, chunks):
    with lz4.frame.open(path, "wb") as out:
        for chunk in chunks:
            out.write(chunk)


def main():
    sample, out_dir = sys.argv[1], sys.argv[2]
    with lz4.frame.open(sample, "rb") as f:
        all_records = list(records(f.read()))
    by_module = sorted(all_records, key=lambda r: r[0].split(":")[0])
    write(f"{out_dir}/concept.prn1.lz4", (r for _, r in by_module))
    half = len(all_records) // 2
    write(f"{out_dir}/part1.prn1.lz4", (r for _, r in all_records[:half]))
    write(f"{out_dir}/part2.prn1.lz4", (r for _, r in all_records[half:]))


if __name__ == "__main__":
    main()
