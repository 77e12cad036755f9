#!/usr/bin/python3
"""Independent GPT-2 BPE oracle for tests/tokenizers/gpt2_oracle_test.cc, written from OpenAI gpt-2 encoder.py's
algorithm: Python's `re` with the pattern's \\p{L} / \\p{N} spelled out as character classes built from unicodedata
(the `regex` module is not installed), \\s as Unicode White_Space, bytes_to_unicode, and the "merge the lowest-rank
bigram everywhere" loop.

usage: gpt2_bpe_ref.py IN.json OUT.json
IN: {"vocab": path, "merges": path, "texts": [str, ...]}  OUT: {"pretokens": [[str...]...], "ids": [[int...]...]}
"""
import json
import re
import sys
import unicodedata

WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def category_class(prefix):
    parts, start = [], None
    for cp in range(0x110001):
        inside = cp < 0x110000 and unicodedata.category(chr(cp)).startswith(prefix)
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            end = cp - 1
            parts.append(re.escape(chr(start)) if start == end else re.escape(chr(start)) + "-" + re.escape(chr(end)))
            start = None
    return "".join(parts)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def main():
    req = json.load(open(sys.argv[1], encoding="utf-8"))
    L, N, S = category_class("L"), category_class("N"), WHITE_SPACE
    pat = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[%s]+| ?[%s]+| ?[^%s%s%s]+|[%s]+(?![^%s])|[%s]+"
                     % (L, N, S, L, N, S, S, S))
    encoder = json.load(open(req["vocab"], encoding="utf-8"))
    lines = open(req["merges"], encoding="utf-8").read().split("\n")[1:]
    ranks = {tuple(l.split()): i for i, l in enumerate(x for x in lines if x)}
    b2u = bytes_to_unicode()

    def bpe(token):
        word = list(token)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
            if best not in ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == best[0] and word[i + 1] == best[1]:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        return word

    all_pre, all_ids = [], []
    for text in req["texts"]:
        pre = pat.findall(text)
        assert "".join(pre) == text
        ids = []
        for p in pre:
            ids.extend(encoder[t] for t in bpe("".join(b2u[b] for b in p.encode("utf-8"))))
        all_pre.append(pre)
        all_ids.append(ids)
    json.dump({"pretokens": all_pre, "ids": all_ids}, open(sys.argv[2], "w", encoding="utf-8"))


main()
