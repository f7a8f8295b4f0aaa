"""W&B's `.wandb` transaction log framed and its history and summary records decoded with numpy.

Framing (`frame`): the log is a 7-byte header, then 32 KiB blocks of chunks `crc32 | length | type | data`
(the CRC is zlib's crc32 of the data seeded with the type byte); FULL chunks hold a record, FIRST, MIDDLE and
LAST chunks one record between them, and fewer than 7 bytes left in a block are a zero trailer. The walk from
chunk to chunk is sequential, so it is a tight Python loop; each chunk's CRC is checked. It stops at a record
boundary: a record whose chunks are not all there yet (a FIRST without its LAST, a chunk cut short) is left
for the next piece, so that the consumed offset is always where a fresh read would be at the same point.

Decoding (`decode`): most records of a run are `Record{num, history: HistoryRecord{item: [HistoryItem{key |
nested_key, value_json}], step}}` and `Record{num, summary: SummaryRecord{update: [SummaryItem]}}` (field
numbers from wandb's `wandb_internal.proto`: Record.history 2, summary 3; HistoryRecord.item 1, step 2;
item key 1, nested_key 2, value_json 16). Their fields are walked for all records at once (a positions array
moved field by field), items grouped by the bytes of their key (the key of a group is decoded once, by
wandb's own `SummaryItem` class), and the numeric `value_json` texts of a whole piece converted by one
`orjson` call on a JSON array built from them (W&B's `NaN`, `Infinity` and `-Infinity`, which are not JSON,
are found by their bytes). A record of any other shape, or with a field this walk does not know, is left to
the protobuf classes; so is every record of another kind.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BLOCK = 32768
HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_SEED = {kind: zlib.crc32(bytes([kind])) for kind in (FULL, FIRST, MIDDLE, LAST)}
_PAD = 16  # zero bytes after the joined records, so that a walk may look a few bytes past a record's end

HISTORY, SUMMARY = 0x12, 0x1A   # Record.history (2) and Record.summary (3), length-delimited
_ITEM, _STEP = 0x0A, 0x12       # HistoryRecord.item (1), .step (2); SummaryRecord.update (1), .remove (2)
_KEY, _NESTED = 0x0A, 0x12      # HistoryItem / SummaryItem key (1), nested_key (2)
_VALUE = (0x82, 0x01)           # value_json (16): a two-byte tag
_SPECIAL = {b"NaN": float("nan"), b"Infinity": float("inf"), b"-Infinity": float("-inf")}
_MAX_NUMBER = 32                # longer numeric texts are left to the one-by-one path


@dataclass
class Frames:
    """The complete records of one piece of a log, joined; where the piece's reading stopped and what it saw.

    `buf[starts[i]:starts[i] + lengths[i]]` is record i (`buf` has `_PAD` zero bytes more at its end).
    `consumed` bytes of the piece are done with (whole records, damage passed over, block trailers); state
    changes up to there are `damaged` and `lost`. `pending` damage and `cut` describe the bytes after it,
    which the next piece reads again: a damaged chunk whose block is not all there yet, a record cut short.
    """

    buf: bytes
    starts: np.ndarray
    lengths: np.ndarray
    consumed: int = 0
    damaged: int = 0
    lost: bool = False
    pending: int = 0
    cut: bool = False


def frame(data: bytes, skip: int, base: int, lost: bool) -> Frames:
    """The records in `data[skip:]`, `data` being the log's bytes from offset `base` on (`skip`: the header's
    length at the log's start, else 0); positions are in `data`. `lost` as the previous
    piece left it (after damage, the orphaned rest of a record is not counted again). Damage is counted as
    the whole-file reader of `wandb` counts it (each damaged chunk and each broken chain once).

    Chunks never cross a block boundary, so the chunks of all blocks are walked at once (one step of every
    block at a time); only the joining of records split across chunks, and damage, are followed one by one.
    """
    raw = bytes(data)
    n = len(raw)
    u8 = np.frombuffer(raw if n >= 8 else raw + bytes(8), dtype=np.uint8)  # header fields are read at 0..6
    first_room = BLOCK - (base + skip) % BLOCK
    bstart = np.concatenate([np.full(1, skip, dtype=np.int64),
                             np.arange(skip + first_room, n, BLOCK, dtype=np.int64)])
    bend = bstart + BLOCK
    bend[0] = skip + first_room
    nb = len(bstart)
    stop_at = np.zeros(nb, dtype=np.int64)
    stop = np.zeros(nb, dtype=np.int8)  # how each block's walk ended: one of _END, _CUT_STOP, ...
    found: list[tuple[np.ndarray, ...]] = []
    blocks, p, k = np.arange(nb), bstart.copy(), 0
    while len(blocks):
        end_b = bend[blocks]
        ended = (p >= n) | (end_b - p < 7)
        stop_at[blocks[ended]] = np.minimum(end_b[ended], n)
        head_cut = ~ended & (p + 7 > n)
        stop[blocks[head_cut]], stop_at[blocks[head_cut]] = _CUT_STOP, p[head_cut]
        rest = ~ended & ~head_cut
        q = np.where(rest, p, 0)
        length = u8[q + 4].astype(np.int64) | (u8[q + 5].astype(np.int64) << 8)
        kind = u8[q + 6]
        pad = rest & (kind == 0) & (length == 0)
        bad = rest & ~pad & ((kind < FULL) | (kind > LAST) | (length > end_b - p - 7))
        whole = end_b <= n
        for mask, done, waiting in ((pad, _END, _WAIT), (bad, _DAMAGED_STOP, _PENDING)):
            here = mask & whole
            stop[blocks[here]], stop_at[blocks[here]] = done, end_b[here]
            here = mask & ~whole
            stop[blocks[here]], stop_at[blocks[here]] = waiting, p[here]
        cut = rest & ~pad & ~bad & (p + 7 + length > n)
        stop[blocks[cut]], stop_at[blocks[cut]] = _CUT_STOP, p[cut]
        good = rest & ~pad & ~bad & ~cut
        damaged_here = bad & whole
        take = good | damaged_here
        found.append((blocks[take], np.full(int(take.sum()), k), p[take], length[take],
                      np.where(damaged_here, 0, kind)[take]))
        p = (p + 7 + length)[good]
        blocks = blocks[good]
        k += 1
    cblock, ck, cpos, clen, ckind = (np.concatenate(x) for x in zip(*found, strict=True)) if found else (
        np.zeros(0, dtype=np.int64) for _ in range(5))
    order = _by_group(cblock, ck, nb)
    cblock, ck, cpos, clen, ckind = (x[order] for x in (cblock, ck, cpos, clen, ckind))
    ckind = ckind.astype(np.int8)
    real = np.flatnonzero(ckind > 0)
    if len(real):
        crc32, seeds, mv = zlib.crc32, _SEED, memoryview(raw)
        got = np.fromiter((crc32(mv[s:s + ln], seeds[kd]) for s, ln, kd in zip(
            (cpos[real] + 7).tolist(), clen[real].tolist(), ckind[real].tolist(), strict=True)),
            dtype=np.uint32, count=len(real))
        at = cpos[real]
        want = (u8[at].astype(np.uint32) | (u8[at + 1].astype(np.uint32) << 8)
                | (u8[at + 2].astype(np.uint32) << 16) | (u8[at + 3].astype(np.uint32) << 24))
        wrong = real[got != want]
        if len(wrong):  # a damaged chunk costs the rest of its block
            first_bad = np.full(nb, np.iinfo(np.int64).max)
            np.minimum.at(first_bad, cblock[wrong], ck[wrong])
            blk = cblock[wrong]
            whole_b = bend <= n
            keep = ck < first_bad[cblock]
            at_bad = ck == first_bad[cblock]
            keep |= at_bad & whole_b[cblock]
            ckind[at_bad] = 0
            for b in np.unique(blk).tolist():
                if whole_b[b]:
                    stop[b], stop_at[b] = _DAMAGED_STOP, bend[b]
                else:
                    stop[b], stop_at[b] = _PENDING, cpos[at_bad & (cblock == b)][0]
            cblock, cpos, clen, ckind = cblock[keep], cpos[keep], clen[keep], ckind[keep]
    # records split across chunks and damage, in order
    damaged = 0
    chain: list[int] | None = None
    chain_lost = lost
    chains: list[list[int]] = []
    special = np.flatnonzero(ckind != FULL).tolist()
    kinds = ckind.tolist() if special else []
    prev = -1
    for i in [*special, len(ckind)]:
        if i > prev + 1:  # FULL chunks in between: the first one breaks an unfinished chain
            if chain is not None:
                damaged, chain = damaged + 1, None
            lost = False
        if i == len(ckind):
            break
        kd = kinds[i]
        if kd == 0:
            damaged, chain, lost = damaged + 1, None, True
        elif kd == FIRST:
            if chain is not None:
                damaged += 1
            chain, chain_lost, lost = [i], lost, False
        elif chain is not None:
            chain.append(i)
            if kd == LAST:
                chains.append(chain)
                chain = None
        else:  # the rest of a record whose start was damaged or never seen
            damaged += int(not lost)
            lost = True
        prev = i
    last = nb - 1
    consumed, cut, pending = int(stop_at[last]), bool(stop[last] == _CUT_STOP), int(stop[last] == _PENDING)
    if chain is not None:  # read again from its FIRST chunk next time
        consumed, lost = int(cpos[chain[0]]), chain_lost
        cut = not pending
        chains_done = chains
    else:
        chains_done = chains
    full = np.flatnonzero(ckind == FULL)
    starts = cpos[full] + 7
    lengths = clen[full]
    extra = b""
    if chains_done:
        mv = memoryview(raw)
        joined = [b"".join(mv[int(cpos[j]) + 7:int(cpos[j] + 7 + clen[j])] for j in c) for c in chains_done]
        ends = np.array([c[-1] for c in chains_done], dtype=np.int64)
        sizes = np.array([len(j) for j in joined], dtype=np.int64)
        offsets = n + np.cumsum(sizes) - sizes
        where = np.concatenate([full, ends])
        order = np.argsort(where, kind="stable")
        starts = np.concatenate([starts, offsets])[order]
        lengths = np.concatenate([lengths, sizes])[order]
        extra = b"".join(joined)
    buf = raw + extra + bytes(_PAD) if extra else raw + bytes(_PAD)
    return Frames(buf, starts, lengths, consumed, damaged, lost, pending, cut)


_END, _CUT_STOP, _WAIT, _DAMAGED_STOP, _PENDING = 0, 1, 2, 3, 4  # how a block's walk ended


def _by_group(group: np.ndarray, k: np.ndarray, groups: int) -> np.ndarray:
    """The order that sorts entries by group, then by `k` (their place in it, 0, 1, ... per group)."""
    counts = np.bincount(group, minlength=groups)
    first = np.cumsum(counts) - counts
    order = np.empty(len(group), dtype=np.int64)
    order[first[group] + k] = np.arange(len(group))
    return order


def _varint(u8: np.ndarray, pos: np.ndarray, end: np.ndarray, most: int = 5) -> tuple[np.ndarray, np.ndarray,
                                                                                          np.ndarray]:
    """Varints at `pos` (each before its `end`): (values, positions after them, well-formed), `most` bytes at most."""
    inside = pos < end
    b = u8[np.where(inside, pos, 0)]
    if (b < 0x80).all():  # the usual case: one byte
        return b.astype(np.uint64), pos + 1, inside
    value = np.zeros(len(pos), dtype=np.uint64)
    p = pos.copy()
    live = np.ones(len(pos), dtype=bool)
    ok = np.zeros(len(pos), dtype=bool)
    for i in range(most):
        inside = live & (p < end)
        b = u8[np.where(inside, p, 0)]
        value |= np.where(inside, b & 0x7F, 0).astype(np.uint64) << np.uint64(7 * i)
        p += inside
        done = inside & (b < 0x80)
        ok |= done
        live = inside & ~done
        if not live.any():
            break
    return value, p, ok


def _field(u8: np.ndarray, pos: np.ndarray, end: np.ndarray, tag_bytes: int) -> tuple[np.ndarray, np.ndarray,
                                                                                         np.ndarray]:
    """A length-delimited field whose tag (of `tag_bytes`) is at `pos`: (content start, content end, ok)."""
    length, start, ok = _varint(u8, pos + tag_bytes, end, 4)
    stop = start + length.astype(np.int64)
    return start, stop, ok & (stop <= end)


@dataclass
class Items:
    """The items of the fast records of one kind: their record, position in it, key group and value text."""

    record: np.ndarray     # index into the piece's records
    position: np.ndarray   # the item's place in its record
    group: np.ndarray      # index into `Decoded.keys`
    value_start: np.ndarray
    value_end: np.ndarray


@dataclass
class Decoded:
    """What `decode` made of a piece's records."""

    kind: np.ndarray                 # per record: HISTORY or SUMMARY when decoded here, 0: left to protobuf
    starts: np.ndarray               # the records, as `Frames` has them
    lengths: np.ndarray
    history: Items
    summary: Items
    keys: list[tuple[tuple[str, ...], str] | None] = field(default_factory=list)  # per group: (nested_key, key)
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # items per record


def decode(frames: Frames, item_class: Any, decode_error: type[Exception]) -> Decoded:
    """History and summary records of the plain shapes (module docstring), walked with numpy; the kind of
    every other record is 0. `item_class` is wandb's `SummaryItem`, which decodes each distinct key once."""
    buf, starts, lengths = frames.buf, frames.starts, frames.lengths
    u8 = np.frombuffer(buf, dtype=np.uint8)
    count = len(starts)
    ends = starts + lengths
    kind = np.zeros(count, dtype=np.uint8)
    if not count:
        empty = Items(*(np.zeros(0, dtype=np.int64) for _ in range(5)))
        return Decoded(kind, starts, lengths, empty, empty)
    # Record.num (field 1, varint) may come first; then the history or summary field must run to the end.
    pos = starts.copy()
    has_num = (u8[pos] == 0x08) & (lengths > 0)
    _, after, ok = _varint(u8, pos + 1, ends, 6)
    pos = np.where(has_num, after, pos)
    good = ~has_num | ok
    tag = u8[np.minimum(pos, len(u8) - 1)]
    good &= (pos < ends) & ((tag == HISTORY) | (tag == SUMMARY))
    start, stop, ok = _field(u8, pos, ends, 1)
    good &= ok & (stop == ends)
    kind[good] = tag[good]
    history = np.flatnonzero(kind == HISTORY)
    summary = np.flatnonzero(kind == SUMMARY)
    bad = np.zeros(count, dtype=bool)
    h_items = _items(u8, history, start[history], ends[history], bad, steps=True)
    s_items = _items(u8, summary, start[summary], ends[summary], bad, steps=False)
    # each item: key fields, then value_json last
    every = [np.concatenate([a, b]) for a, b in zip(h_items, s_items, strict=True)]
    split = len(h_items[0])
    rec, position, istart, iend = every
    sig_end, vstart, vend, item_ok = _item_fields(u8, istart, iend)
    bad[rec[~item_ok]] = True
    groups, keys, key_ok = _groups(u8, istart, sig_end - istart, item_class, decode_error)
    bad[rec[~key_ok]] = True
    kind[bad] = 0
    counts = np.bincount(rec, minlength=count) if len(rec) else np.zeros(count, dtype=np.int64)

    def part(sel: slice) -> Items:
        keep = ~bad[rec[sel]]
        return Items(rec[sel][keep], position[sel][keep], groups[sel][keep], vstart[sel][keep], vend[sel][keep])

    return Decoded(kind, starts, lengths, part(slice(0, split)), part(slice(split, None)), keys, counts)


def _items(u8: np.ndarray, records: np.ndarray, start: np.ndarray, end: np.ndarray, bad: np.ndarray,
           steps: bool) -> list[np.ndarray]:
    """(record, position, start, end) of the item fields (field 1) of the given records, ordered by record then
    position; a record with any other field (but one well-formed `step` of a history record) is marked bad."""
    recs, poss, begins, stops = [], [], [], []
    idx, p, e = records, start, end
    seen_step = np.zeros(bad.shape[0], dtype=bool)
    k = 0
    while len(idx):
        tag = u8[p]
        s, f, ok = _field(u8, p, e, 1)
        is_item = tag == _ITEM
        is_step = (tag == _STEP) if steps else np.zeros(len(idx), dtype=bool)
        if steps and is_step.any():
            # HistoryStep{num}: empty, or exactly one varint field 1
            st = np.flatnonzero(is_step & ok)
            s_at, f_at = s[st], f[st]
            empty = s_at == f_at
            first = (u8[s_at] == 0x08) & ~empty
            _, after, vok = _varint(u8, s_at + 1, f_at, 10)
            fine = empty | (first & vok & (after == f_at))
            repeat = seen_step[idx[st]]
            ok[st] &= fine & ~repeat
            seen_step[idx[st]] = True
        ok &= is_item | is_step
        bad[idx[~ok]] = True
        take = ok & is_item
        recs.append(idx[take])
        poss.append(np.full(int(take.sum()), k, dtype=np.int64))
        begins.append(s[take])
        stops.append(f[take])
        more = ok & (f < e)
        idx, p, e = idx[more], f[more], e[more]
        k += 1
    if not recs:
        return [np.zeros(0, dtype=np.int64) for _ in range(4)]
    rec, pos, beg, stp = (np.concatenate(x) for x in (recs, poss, begins, stops))
    # order by record, then position: item k of record r goes to r's first slot + k
    counts = np.bincount(rec, minlength=bad.shape[0])
    first = np.cumsum(counts) - counts
    dest = first[rec] + pos
    out = [np.empty_like(rec) for _ in range(4)]
    for target, source in zip(out, (rec, pos, beg, stp), strict=True):
        target[dest] = source
    return out


def _item_fields(u8: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per item: where its key fields end, its value_json's start and end, and whether it has the plain shape
    (key and nested_key fields, then one non-empty value_json last)."""
    n = len(start)
    sig_end = np.zeros(n, dtype=np.int64)
    vstart = np.zeros(n, dtype=np.int64)
    vend = np.zeros(n, dtype=np.int64)
    ok = np.ones(n, dtype=bool)
    idx, p = np.arange(n), start.copy()
    while len(idx):
        e = end[idx]
        tag = u8[p]
        is_value = (tag == _VALUE[0]) & (u8[p + 1] == _VALUE[1])
        is_key = (tag == _KEY) | (tag == _NESTED)
        s, f, fine = _field(u8, p, e, 1 + is_value.astype(np.int64))
        fine &= is_value | is_key
        value_here = fine & is_value
        fine &= ~value_here | ((f == e) & (f > s))
        ok[idx[~fine]] = False
        done = idx[value_here & fine]
        sig_end[done], vstart[done], vend[done] = p[value_here & fine], s[value_here & fine], f[value_here & fine]
        go = fine & is_key
        no_value = go & (f >= e)
        ok[idx[no_value]] = False
        go &= ~no_value
        idx, p = idx[go], f[go]
    return sig_end, vstart, vend, ok


_MASKS = np.array([(1 << (8 * r)) - 1 for r in range(9)], dtype=np.uint64)  # the low r bytes of a word
_SPACES = np.uint64(0x2020202020202020)


def _windows(u8: np.ndarray, start: np.ndarray, length: np.ndarray, spaces: bool = False) -> np.ndarray:
    """The bytes `[start, start + length)` of each item as little-endian uint64 words (n, ceil(max / 8)),
    bytes past its length zero (or spaces)."""
    words = max(1, int((int(length.max()) + 7) // 8)) if len(length) else 1
    view = np.ndarray(shape=(len(u8) - 7,), dtype="<u8", buffer=u8, strides=(1,))
    out = np.empty((len(start), words), dtype=np.uint64)
    last = len(view) - 1
    for k in range(words):
        mask = _MASKS[np.clip(length - 8 * k, 0, 8)]
        word = view[np.minimum(start + 8 * k, last)] & mask
        out[:, k] = word | (_SPACES & ~mask) if spaces else word
    return out


def _groups(u8: np.ndarray, start: np.ndarray, length: np.ndarray, item_class: Any,
            decode_error: type[Exception]) -> tuple[np.ndarray, list[Any], np.ndarray]:
    """Items grouped by the bytes of their key fields: (group per item, key path per group, ok per item).
    The key of a group is decoded by wandb's `SummaryItem` (None when it does not decode: its items not ok)."""
    n = len(start)
    if not n:
        return np.zeros(0, dtype=np.int64), [], np.ones(0, dtype=bool)
    words = _windows(u8, start, length)
    h = length.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for k in range(words.shape[1]):
        h = (h ^ words[:, k]) * np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    _, first, group = np.unique(h, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    rep = first[group]
    ok = (length == length[rep]) & (words == words[rep]).all(axis=1)  # a hash collision is not taken on trust
    keys: list[Any] = []
    for i in first.tolist():
        raw = u8[int(start[i]):int(start[i] + length[i])].tobytes()
        try:
            item = item_class.FromString(raw)
        except decode_error:
            keys.append(None)
            continue
        keys.append((tuple(item.nested_key), item.key))
    bad_keys = np.array([k is None for k in keys], dtype=bool)
    ok &= ~bad_keys[group]
    return group.astype(np.int64), keys, ok


def numbers(u8: np.ndarray, start: np.ndarray, end: np.ndarray, loads: Any) -> tuple[np.ndarray, np.ndarray,
                                                                                      list[Any]]:
    """The value texts `[start, end)` that are JSON numbers or W&B's NaN/Infinity/-Infinity, converted at once:
    (which items were numbers, their values as float64, the Python objects `loads` made of them (an int stays
    exact; None for the special ones)). Any other text is not marked and is read one by one by the caller.

    The texts that start as a number does are put in one JSON array, each in its own slot padded with spaces.
    The array is trusted only when it holds no string, true, false or null, has one element per slot, and every
    element is a plain number: a text that is not one number (`1,2`, `[1`) cannot pass all of these.
    """
    n = len(start)
    length = end - start
    if not n:
        return np.zeros(0, dtype=bool), np.zeros(0), []
    first = u8[start]
    digit = (first >= 0x30) & (first <= 0x39)
    numeric = (length > 0) & (length <= _MAX_NUMBER) & (digit | (first == 0x2D))
    maybe = np.flatnonzero(((length == 3) & (first == 0x4E)) | ((length == 8) & (first == 0x49))
                           | ((length == 9) & (first == 0x2D) & (u8[start + 1] == 0x49)))
    special_at: list[int] = []
    special_values: list[float] = []
    for i in maybe.tolist():
        value = _SPECIAL.get(u8[int(start[i]):int(end[i])].tobytes())
        if value is not None:
            special_at.append(i)
            special_values.append(value)
    numeric[special_at] = False
    sel = np.flatnonzero(numeric)
    slots = np.hstack([_windows(u8, start[sel], length[sel], spaces=True),
                       np.full((len(sel), 1), np.uint64(int.from_bytes(b"       ,", "little")))])
    body = slots.tobytes()
    objects: list[Any] | None = None
    if not any(c in body for c in (b'"', b"t", b"f", b"n")):
        try:
            objects = loads(b"[" + body[:-1] + b"]")
            values = np.array(objects, dtype=np.float64)
        except (ValueError, TypeError):
            objects = None
        else:
            if values.ndim != 1 or len(values) != len(sel):
                objects = None
    if objects is None:  # some text is not one plain number: all are read one by one
        numeric[:] = False
        sel = np.zeros(0, dtype=np.int64)
        objects, values = [], np.zeros(0)
    if special_at:
        numeric[special_at] = True
        everything = np.concatenate([sel, np.array(special_at, dtype=np.int64)])
        order = np.argsort(everything, kind="stable")
        values = np.concatenate([values, np.array(special_values)])[order]
        merged = [*objects, *([None] * len(special_at))]
        objects = [merged[j] for j in order.tolist()]
    return numeric, values, objects
