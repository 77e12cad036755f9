#!/usr/bin/python3
"""Independent oracle for SentencePiece BPE encoding: llama2.c run.c's encode() algorithm transcribed to Python
(dummy-prefix space when the text is not empty, UTF-8 characters looked up in the vocabulary, byte fallback to id
byte + 3, then repeatedly merge the first best-scoring adjacent pair whose concatenation is a token).

usage: llama2c_encode_ref.py IN.json OUT.json
IN: {"tokenizer": path to tokenizer.bin, "texts": [str, ...]}  OUT: {"ids": [[int, ...], ...]} (no BOS)
"""
import json
import struct
import sys


def load(path):
    data = open(path, "rb").read()
    pos, vocab, scores = 4, [], []
    while pos < len(data):
        score, n = struct.unpack_from("<fi", data, pos)
        pos += 8
        vocab.append(data[pos:pos + n])
        scores.append(score)
        pos += n
    return vocab, scores


def encode(text, vocab, scores, lookup):
    raw = text.encode("utf-8")
    if not raw:
        return []
    ids = [lookup[b" "]]
    i = 0
    while i < len(raw):
        j = i + 1
        while j < len(raw) and (raw[j] & 0xC0) == 0x80 and j - i < 4:
            j += 1
        ch = raw[i:j]
        if ch in lookup:
            ids.append(lookup[ch])
        else:
            ids.extend(b + 3 for b in ch)
        i = j
    while True:
        best, best_id, best_idx = -1e10, -1, -1
        for k in range(len(ids) - 1):
            merged = vocab[ids[k]] + vocab[ids[k + 1]]
            t = lookup.get(merged)
            if t is not None and scores[t] > best:
                best, best_id, best_idx = scores[t], t, k
        if best_idx == -1:
            return ids
        ids[best_idx:best_idx + 2] = [best_id]


def main():
    req = json.load(open(sys.argv[1], encoding="utf-8"))
    vocab, scores = load(req["tokenizer"])
    lookup = {}
    for i, v in enumerate(vocab):
        lookup.setdefault(v, i)
    out = [encode(t, vocab, scores, lookup) for t in req["texts"]]
    json.dump({"ids": out}, open(sys.argv[2], "w"))


main()
