"""Biometrics (issue 5): data types, exercises and recordings; points sent in
the binary format (built here with struct and a CRC-32C), JSON and CSV, on
real recordings (ECG 360 Hz, EEG 4 x 256 Hz, RR intervals); idempotent
batches; refused batches store nothing; a failed recording discards its
points; raw, range and bucket queries give back exactly what was sent; EDF
read back; the SVG chart parses; who may read and write, and every read of
points audited; the review's fixes (issue 5): EDF numbered from the whole
second, -32768 kept for gaps, a batch's digest covering the CSV query
string, reads in time order whatever order batches came in, at most 256
channels a recording; issue 15, item 5: EDF+ with standard labels and
annotations that mark what was recorded, read back by MNE; item 6: the
GDPR export links each recording to all its points, for the session that
made the export only; the issue 15 review: EDF of channels at two rates
from inside the recording (read back by MNE, every sample at its time),
channels offset from each other and two samples in one slot refused with
their reasons. Runs on SQLite and PostgreSQL."""

import concurrent.futures
import datetime
import secrets
import struct
import xml.etree.ElementTree as ET
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import requests

from conftest import hdr, login, person, problem, relate, wait_until, years_ago

DATA = Path(__file__).resolve().parents[1] / "data" / "biosignals"
HRV = "00000000-0000-7000-8000-0000000000d1"
EEG = "00000000-0000-7000-8000-0000000000d2"
ECG = "00000000-0000-7000-8000-0000000000d3"
BINARY = "application/vnd.carebase.points"
T0 = int(datetime.datetime(2026, 3, 1, 10, 0, tzinfo=datetime.timezone.utc).timestamp() * 1000)
N = 20000

# --------------------------------------------------------------------------
# the real recordings


def _data(name):
    return (DATA / name).read_bytes()


def ecg():
    raw = _data("ecg_mitbih208_mlii_360hz.u16le")
    return list(struct.unpack(f"<{N}H", raw[:2 * N]))


def eeg():
    raw = _data("eeg_biosig_4ch_256hz_planar.i16le")
    per = len(raw) // 8
    return [list(struct.unpack(f"<{N}h", raw[2 * per * c:2 * per * c + 2 * N]))
            for c in range(4)]


def rr():
    return [int(x) for x in _data("hrv_rr_intervals_ms.txt").decode().split()]


# --------------------------------------------------------------------------
# the binary format, version 1 (docs/POINTS_FORMAT.md)

_CRC = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC.append(_c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    tab = _CRC
    for b in data:
        crc = tab[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def binary(seq, channels):
    """channels: [(name, rate_mhz, t0_ms, samples, timestamps or None)]"""
    out = bytearray(b"CBP1" + struct.pack("<IQH", 0, seq, len(channels)))
    for name, rate, t0, samples, ts in channels:
        nm = name.encode()
        out += struct.pack("<B", len(nm)) + nm + struct.pack("<IqI", rate, t0, len(samples))
        out += struct.pack(f"<{len(samples)}i", *samples)
        if rate == 0:
            out += struct.pack(f"<{len(ts)}q", *ts)
    out += struct.pack("<I", crc32c(out))
    return bytes(out)


def t_us(t0, rate_mhz, k):
    """Time of sample k of a regular segment, in microseconds (floored)."""
    return t0 * 1000 + (k * 10 ** 9) // rate_mhz


# --------------------------------------------------------------------------
# people


@pytest.fixture
def cast(server):
    c = {"admin": person(server, "admin", "admin"),
         "therapist": person(server, "therapist", "therapist"),
         "therapist2": person(server, "therapist2", "therapist"),
         "owner": person(server, "owner"),
         "guardian": person(server, "guardian", date_of_birth=years_ago(40)),
         "child": person(server, "child", date_of_birth=years_ago(12)),
         "other": person(server, "other")}
    relate(server, c["admin"], c["therapist"], c["owner"], "practitioner_of")
    relate(server, c["admin"], c["guardian"], c["child"], "guardian_of")
    return c


def recording(server, who, data_type, **extra):
    body = {"data_type_id": data_type, "started_at": "2026-03-01T10:00:00.000Z"}
    body.update(extra)
    r = server.post("/v1/recordings", headers=hdr(who), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def send(server, who, rid, body, ctype=BINARY, params=None):
    return server.post(f"/v1/recordings/{rid}/points", headers={**hdr(who), "Content-Type": ctype},
                       data=body, params=params, timeout=30)


def points(server, who, rid, **params):
    r = server.get(f"/v1/recordings/{rid}/points", headers=hdr(who), params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json(parse_float=Decimal)


def us_of(t):
    return int(Decimal(t) * 1000)


def blocks(db, rid, channel=None):
    where = f"recording_id = '{rid}'" + (f" AND channel = '{channel}'" if channel else "")
    return [tuple(int(x) for x in row) for row in db.query(
        f"SELECT seq, count, first_index, t0_ms FROM recording_blocks WHERE {where} "
        "ORDER BY channel, seq")]


def send_ecg_in_batches(server, who, rid, samples, sizes, seq0=0):
    """Send samples as consecutive batches; each batch's t0 is its first
    sample's time rounded to the ms, as a device would send it."""
    at, seq = 0, seq0
    for n in sizes:
        part = samples[at:at + n]
        t0 = T0 + round(at * 1000 / 360)
        r = send(server, who, rid, binary(seq, [("mlii", 360000, t0, part, None)]))
        assert r.status_code == 201, r.text
        assert r.json() == {"recording_id": rid, "seq": seq, "points": len(part),
                            "channels": 1, "duplicate": False}
        at += n
        seq += 1
    assert at == len(samples)


def expect_buckets(times_rational, values, frm, to, nb):
    """times_rational: [(numerator, denominator)] ms; -> count, min, max, sum."""
    out = [[0, None, None, 0] for _ in range(nb)]
    span = to - frm
    for (num, den), v in zip(times_rational, values):
        a = num - frm * den                  # (t - from) * den
        if a < 0 or a >= span * den:
            continue
        i = a * nb // (span * den)
        b = out[i]
        b[0] += 1
        b[1] = v if b[1] is None else min(b[1], v)
        b[2] = v if b[2] is None else max(b[2], v)
        b[3] += v
    return out


def check_buckets(got, want):
    assert got["count"] == [b[0] for b in want]
    assert got["min"] == [b[1] for b in want]
    assert got["max"] == [b[2] for b in want]
    for m, b in zip(got["mean"], want):
        if b[0] == 0:
            assert m is None
        else:
            assert abs(float(m) - b[3] / b[0]) < 1e-6 * max(1.0, abs(b[3] / b[0]))


# --------------------------------------------------------------------------
# data types and exercises


def test_seeded_data_types_admins_write_everyone_reads(server, cast, db):
    for t in ("data_types", "exercises", "recordings", "recording_blocks", "recording_batches"):
        assert t in db.tables()
    r = server.get("/v1/data-types?limit=50", headers=hdr(cast["other"]))
    assert r.status_code == 200, r.text
    types = {t["name"]: t for t in r.json()["data"]}
    assert {"HRV", "EEG", "ECG", "PPG", "SpO2"} <= set(types)
    assert types["ECG"]["rate_mhz"] == 360000 and types["ECG"]["scale"] == "0.005"
    assert types["ECG"]["offset_value"] == "-5.12" and types["HRV"]["rate_mhz"] is None
    assert "rr" in types["HRV"]["channels"]
    problem(server.get("/v1/data-types"), 401, "UNAUTHORIZED")
    body = {"name": "RESP", "unit": "au", "channels": ["chest", "belly"], "rate_mhz": 25000,
            "scale": "0.5", "offset_value": "-1e3"}
    problem(server.post("/v1/data-types", headers=hdr(cast["owner"]), json=body), 403, "FORBIDDEN")
    r = server.post("/v1/data-types", headers=hdr(cast["admin"]), json=body)
    assert r.status_code == 201, r.text
    assert r.json()["channels"] == ["chest", "belly"] and r.json()["scale"] == "0.5"
    problem(server.post("/v1/data-types", headers=hdr(cast["admin"]), json=body), 409, "CONFLICT")
    for bad in ({"scale": "0"}, {"scale": "abc"}, {"scale": "+1"}, {"scale": ".5"},
                {"offset_value": "1e"}, {"channels": ["Chest"]}, {"channels": ["a", "a"]},
                {"rate_mhz": 0}):
        b = dict(body, name="X" + secrets.token_hex(2), **bad)
        e = problem(server.post("/v1/data-types", headers=hdr(cast["admin"]), json=b),
                    422, "VALIDATION_FAILED")
        assert e["errors"][0]["field"] == next(iter(bad)), (bad, e)


def test_exercises_admins_write_everyone_reads(server, cast):
    body = {"name": "Coherent breathing", "tracks": ["breathing"], "description": "6 per minute"}
    problem(server.post("/v1/exercises", headers=hdr(cast["owner"]), json=body), 403, "FORBIDDEN")
    r = server.post("/v1/exercises", headers=hdr(cast["admin"]), json=body)
    assert r.status_code == 201, r.text
    ex = r.json()
    assert ex["is_active"] is True and ex["tracks"] == ["breathing"]
    r = server.get("/v1/exercises?is_active=true", headers=hdr(cast["other"]))
    assert r.status_code == 200 and ex["id"] in [x["id"] for x in r.json()["data"]]
    rec = recording(server, cast["owner"], ECG, exercise_id=ex["id"], location="Home",
                    feedback="calm")
    assert rec["exercise_id"] == ex["id"] and rec["status"] == "recording" and rec["points"] == 0
    r = server.request("PATCH", f"/v1/exercises/{ex['id']}", headers=hdr(cast["admin"]),
                       json={"is_active": False})
    assert r.status_code == 200, r.text
    e = problem(server.post("/v1/recordings", headers=hdr(cast["owner"]),
                            json={"data_type_id": ECG, "exercise_id": ex["id"]}),
                422, "VALIDATION_FAILED")
    assert e["errors"][0]["code"] == "inactive"


# --------------------------------------------------------------------------
# ingest and queries


@pytest.mark.dialect
def test_binary_ecg_in_small_batches_is_stored_in_full_blocks(server, cast, db):
    samples = ecg()
    o = cast["owner"]
    rec = recording(server, o, ECG)
    rid = rec["id"]
    sizes = [500] * 10 + [333, 4667, 7000, 3000]
    send_ecg_in_batches(server, o, rid, samples, sizes)
    # Small batches fill the last block up: blocks of 1024 but the last.
    bl = blocks(db, rid)
    assert [b[1] for b in bl] == [1024] * 19 + [N - 19 * 1024]
    assert [b[0] for b in bl] == list(range(20))
    assert all(b[3] == T0 for b in bl) and [b[2] for b in bl] == [1024 * i for i in range(20)]
    assert db.count("recording_batches", f"recording_id = '{rid}'") == len(sizes)
    r = server.get(f"/v1/recordings/{rid}", headers=hdr(o))
    assert r.json()["points"] == N

    # Raw: every sample back, at its exact time.
    p = points(server, o, rid, channel="mlii")
    assert p["count"] == N and p["v"] == samples
    assert p["unit"] == "mV" and p["scale"] == Decimal("0.005") and p["offset"] == Decimal("-5.12")
    assert p["rate"] == 360 and us_of(p["t0"]) == T0 * 1000
    assert [us_of(t) for t in p["t"]] == [t_us(T0, 360000, k) for k in range(N)]
    # The only channel is the default one.
    assert points(server, o, rid)["v"] == samples

    # A range: exactly the samples whose time is in [from, to).
    frm, to = T0 + 10001, T0 + 23456
    p = points(server, o, rid, channel="mlii", **{"from": frm, "to": to})
    want = [k for k in range(N) if frm * 1000 <= t_us(T0, 360000, k) < to * 1000]
    assert p["v"] == [samples[k] for k in want]
    assert [us_of(t) for t in p["t"]] == [t_us(T0, 360000, k) for k in want]
    # ISO times work too.
    iso = datetime.datetime.fromtimestamp(frm / 1000, datetime.timezone.utc)
    p2 = points(server, o, rid, **{"from": iso.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                                   "to": str(to)})
    assert p2["v"] == p["v"]

    # Buckets over the whole recording and over a window.
    times = [(T0 * 360000 + k * 10 ** 6, 360000) for k in range(N)]
    for frm, to, nb in ((None, None, 1000), (T0 + 999, T0 + 30001, 77), (T0, T0 + 60000, 10000)):
        q = {"channel": "mlii", "buckets": nb}
        if frm is not None:
            q.update({"from": frm, "to": to})
        got = points(server, o, rid, **q)
        f = frm if frm is not None else T0
        t = to if to is not None else t_us(T0, 360000, N - 1) // 1000 + 1
        assert got["from"] == f and got["to"] == t and got["buckets"] == nb
        check_buckets(got, expect_buckets(times, samples, f, t, nb))
        assert sum(got["count"]) == sum(1 for (a, d) in times if f * d <= a < t * d)

    # A batch that does not continue the segment starts a new one.
    later = T0 + 600000
    r = send(server, o, rid, binary(len(sizes), [("mlii", 360000, later, samples[:100], None)]))
    assert r.status_code == 201, r.text
    bl = blocks(db, rid)
    assert len(bl) == 21 and bl[-1] == (20, 100, 0, later)
    p = points(server, o, rid, **{"from": later})
    assert p["v"] == samples[:100] and us_of(p["t"][0]) == later * 1000

    r = server.get(f"/v1/recordings/{rid}/channels", headers=hdr(o))
    assert r.status_code == 200, r.text
    ch = r.json()["channels"]
    assert len(ch) == 1 and ch[0]["name"] == "mlii" and ch[0]["count"] == N + 100
    assert ch[0]["min"] == min(samples) and ch[0]["max"] == max(samples) and ch[0]["rate"] == 360


def test_retried_batch_is_stored_once_and_other_content_conflicts(server, cast, db):
    samples = ecg()[:3000]
    o = cast["owner"]
    rid = recording(server, o, ECG)["id"]
    body = binary(7, [("mlii", 360000, T0, samples, None)])
    assert send(server, o, rid, body).status_code == 201
    before = blocks(db, rid)
    r = send(server, o, rid, body)
    assert r.status_code == 200, r.text
    assert r.json()["duplicate"] is True and r.json()["points"] == 3000
    assert blocks(db, rid) == before
    assert db.count("recording_batches", f"recording_id = '{rid}'") == 1
    other = binary(7, [("mlii", 360000, T0, samples[:-1] + [samples[-1] + 1], None)])
    problem(send(server, o, rid, other), 409, "BATCH_CONFLICT")
    assert blocks(db, rid) == before
    assert server.get(f"/v1/recordings/{rid}", headers=hdr(o)).json()["points"] == 3000
    assert points(server, o, rid)["v"] == samples


@pytest.mark.dialect
def test_concurrent_batches_and_retries_store_each_batch_once(server, cast, db):
    samples = ecg()[:8 * 1500]
    o = cast["owner"]
    rid = recording(server, o, ECG)["id"]
    bodies = [binary(i, [("mlii", 360000, T0 + round(i * 1500 * 1000 / 360),
                          samples[i * 1500:(i + 1) * 1500], None)]) for i in range(8)]

    def post(body):
        with requests.Session() as s:
            return s.post(server.url(f"/v1/recordings/{rid}/points"), data=body, timeout=30,
                          headers={**hdr(o), "Content-Type": BINARY}).status_code

    # Every batch three times at once, in any order.
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(post, bodies * 3))
    assert sorted(codes) == [200] * 16 + [201] * 8, codes
    assert db.count("recording_batches", f"recording_id = '{rid}'") == 8
    assert server.get(f"/v1/recordings/{rid}", headers=hdr(o)).json()["points"] == len(samples)
    p = points(server, o, rid)
    # Batches landed in any order: each sample is there once, at its time,
    # and the answer is in time order.
    ts = [us_of(t) for t in p["t"]]
    assert ts == sorted(ts)
    assert p["v"] == samples
    assert sum(b[1] for b in blocks(db, rid)) == len(samples)


def test_csv_and_json_retries_are_duplicates_and_other_content_conflicts(server, cast, db):
    o = cast["owner"]
    rid = recording(server, o, EEG)["id"]
    csv = b"c3,c4\n1,2\n3,4\n5,6\n"
    q = {"seq": 0, "rate": "256", "t0": T0}
    r = send(server, o, rid, csv, "text/csv", params=q)
    assert r.status_code == 201, r.text
    before = blocks(db, rid)
    # The same batch again, t0 spelt in ISO 8601 and the rate with a
    # decimal: the same batch, a duplicate.
    for again in (q, {"seq": 0, "rate": "256.000", "t0": "2026-03-01T10:00:00Z"}):
        r = send(server, o, rid, csv, "text/csv", params=again)
        assert r.status_code == 200, r.text
        assert r.json()["duplicate"] is True
    # The same body under the same seq with another t0 or rate is another
    # batch: refused, not dropped as a duplicate.
    for other in ({"seq": 0, "rate": "256", "t0": T0 + 1000},
                  {"seq": 0, "rate": "128", "t0": T0}, {"seq": 0}):
        body = csv if "rate" in other else b"t,c3\n" + str(T0).encode() + b",1\n"
        problem(send(server, o, rid, body, "text/csv", params=other), 409, "BATCH_CONFLICT")
    assert blocks(db, rid) == before
    assert db.count("recording_batches", f"recording_id = '{rid}'") == 1
    assert server.get(f"/v1/recordings/{rid}", headers=hdr(o)).json()["points"] == 6

    # JSON: a retry is a duplicate, however it is spelt; other content conflicts.
    rid = recording(server, o, EEG)["id"]
    body = {"seq": 4, "channels": [{"name": "cz", "t0": T0, "rate": 256, "samples": [1, 2, 3]}]}
    r = server.post(f"/v1/recordings/{rid}/points", headers=hdr(o), json=body)
    assert r.status_code == 201, r.text
    respelt = (b'{ "channels" : [ {"samples":[1,2,3], "rate":256.0, "t0":"2026-03-01T10:00:00.000Z",'
               b' "name":"cz"} ], "seq":4 }')
    r = send(server, o, rid, respelt, "application/json")
    assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    # The same batch in the binary format is the same batch too.
    r = send(server, o, rid, binary(4, [("cz", 256000, T0, [1, 2, 3], None)]))
    assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    for changed in ({"t0": T0 + 1}, {"rate": 128}, {"samples": [1, 2, 4]}):
        b = {"seq": 4, "channels": [dict(body["channels"][0], **changed)]}
        problem(server.post(f"/v1/recordings/{rid}/points", headers=hdr(o), json=b), 409,
                "BATCH_CONFLICT")
    problem(send(server, o, rid, binary(4, [("cz", 256000, T0, [1, 2, 4], None)])), 409,
            "BATCH_CONFLICT")
    assert points(server, o, rid)["v"] == [1, 2, 3]
    assert server.get(f"/v1/recordings/{rid}", headers=hdr(o)).json()["points"] == 3


@pytest.mark.dialect
def test_overlapping_batches_read_back_in_time_order(server, cast):
    o = cast["owner"]
    rid = recording(server, o, ECG)["id"]
    # Two 1 kHz batches over the same half second, the second sent first.
    a = list(range(1000))
    b = list(range(5000, 6000))
    assert send(server, o, rid, binary(1, [("mlii", 1000000, T0 + 500, b, None)])).status_code == 201
    assert send(server, o, rid, binary(0, [("mlii", 1000000, T0, a, None)])).status_code == 201
    # A third one sent last, over the first's start: at equal times the
    # block stored first comes first.
    c = [9000, 9001]
    assert send(server, o, rid, binary(2, [("mlii", 1000000, T0 + 500, c, None)])).status_code == 201
    rows = ([(T0 + k, 0, a[k]) for k in range(1000)] + [(T0 + 500 + k, 1, b[k]) for k in range(1000)]
            + [(T0 + 500 + k, 2, c[k]) for k in range(2)])
    # seq of the blocks: b's block was stored first (0), then a's (1), then c's (2).
    order = {1: 0, 0: 1, 2: 2}
    want = sorted(rows, key=lambda x: (x[0], order[x[1]]))
    p = points(server, o, rid)
    assert [us_of(t) for t in p["t"]] == [t * 1000 for t, _, _ in want]
    assert p["v"] == [v for _, _, v in want]
    # A window, and the CSV export: the same order.
    p = points(server, o, rid, **{"from": T0 + 499, "to": T0 + 502})
    assert p["v"] == [499, 5000, 500, 9000, 5001, 501, 9001]
    r = server.get(f"/v1/recordings/{rid}/export.csv", headers=hdr(o))
    assert r.status_code == 200, r.text
    lines = r.text.splitlines()[1:]
    assert [int(x.split(",")[2]) for x in lines] == [v for _, _, v in want]
    assert [int(x.split(",")[1]) for x in lines] == [t for t, _, _ in want]
    # Irregular: a later batch with earlier times.
    rid = recording(server, o, HRV)["id"]
    assert send(server, o, rid, binary(0, [("rr", 0, 0, [1, 2, 3], [T0 + 10, T0 + 20, T0 + 30])])
                ).status_code == 201
    assert send(server, o, rid, binary(1, [("rr", 0, 0, [4, 5, 6], [T0 + 15, T0 + 20, T0 + 30])])
                ).status_code == 201
    p = points(server, o, rid)
    assert p["v"] == [1, 4, 2, 5, 3, 6]
    assert [int(t) for t in p["t"]] == [T0 + 10, T0 + 15, T0 + 20, T0 + 20, T0 + 30, T0 + 30]


def test_a_recording_holds_at_most_256_channels(server, cast, db):
    a = cast["admin"]
    r = server.post("/v1/data-types", headers=hdr(a),
                    json={"name": "GRID" + secrets.token_hex(2), "unit": "au"})
    assert r.status_code == 201, r.text
    assert r.json()["channels"] == []        # any channel name
    o = cast["owner"]
    rid = recording(server, o, r.json()["id"])["id"]
    names = [f"c{k:03d}" for k in range(256)]
    for seq in range(4):
        chans = [(n, 1000, T0, [seq * 64 + k], None) for k, n in enumerate(names[seq * 64:(seq + 1) * 64])]
        r = send(server, o, rid, binary(seq, chans))
        assert r.status_code == 201, r.text
    before = db.count("recording_blocks", f"recording_id = '{rid}'")
    assert before == 256
    # One channel more, alone or beside known ones: refused, nothing stored.
    for body in (binary(4, [("x256", 1000, T0, [1], None)]),
                 binary(4, [("c000", 1000, T0 + 1, [1], None), ("x256", 1000, T0, [1], None)])):
        e = problem(send(server, o, rid, body), 422, "TOO_MANY_CHANNELS")
        assert "256" in e["detail"]
    assert db.count("recording_blocks", f"recording_id = '{rid}'") == before
    assert db.count("recording_batches", f"recording_id = '{rid}'") == 4
    assert server.get(f"/v1/recordings/{rid}", headers=hdr(o)).json()["points"] == 256
    # Known channels still take points, and every channel reads back.
    r = send(server, o, rid, binary(4, [("c255", 1000, T0 + 1, [7], None)]))
    assert r.status_code == 201, r.text
    r = server.get(f"/v1/recordings/{rid}/channels", headers=hdr(o))
    assert [c["name"] for c in r.json()["channels"]] == names
    assert points(server, o, rid, channel="c255")["v"] == [255, 7]
    # A data type that names its channels refuses the others.
    rid = recording(server, o, EEG)["id"]
    problem(send(server, o, rid, binary(0, [("c3", 256000, T0, [1], None),
                                            ("x1", 256000, T0, [1], None)])), 422, "UNKNOWN_CHANNEL")
    assert db.count("recording_blocks", f"recording_id = '{rid}'") == 0


def test_bad_batches_are_refused_and_store_nothing(start_server, make_db):
    db = make_db()
    server = start_server(db=db, env={"CAREBASE_POINTS_BODY_LIMIT": "200000"})
    o = person(server, "owner")
    rid = recording(server, o, ECG)["id"]
    good = binary(0, [("mlii", 360000, T0, list(range(1000)), None)])
    bad_crc = good[:-4] + struct.pack("<I", (struct.unpack("<I", good[-4:])[0] ^ 1))
    e = problem(send(server, o, rid, bad_crc), 400, "POINTS_MALFORMED")
    assert "checksum" in e["detail"]
    problem(send(server, o, rid, good[:-100]), 400, "POINTS_MALFORMED")
    problem(send(server, o, rid, good[:10]), 400, "POINTS_MALFORMED")
    problem(send(server, o, rid, b"CBP2" + good[4:]), 400, "POINTS_MALFORMED")
    # A header that claims more samples than a batch may hold.
    head = b"CBP1" + struct.pack("<IQH", 0, 1, 1) + b"\x04mlii" + struct.pack("<IqI", 360000, T0, 5 << 20)
    problem(send(server, o, rid, head + struct.pack("<I", crc32c(head))), 413, "BATCH_TOO_LARGE")
    # A body over points_body_limit.
    big = binary(2, [("mlii", 360000, T0, list(range(60000)), None)])
    assert len(big) > 200000
    problem(send(server, o, rid, big), 413, "PAYLOAD_TOO_LARGE")
    # Values: a name outside the data type's channels, times not ascending.
    problem(send(server, o, rid, binary(3, [("v9", 360000, T0, [1, 2], None)])), 422,
            "UNKNOWN_CHANNEL")
    problem(send(server, o, rid, binary(4, [("mlii", 0, 0, [1, 2], [T0 + 5, T0 + 4])])), 422,
            "POINTS_INVALID")
    problem(send(server, o, rid, b'{"seq": 1, "channels": [{"name": "mlii"}]}',
                 "application/json"), 400, "POINTS_MALFORMED")
    problem(send(server, o, rid, good, "application/octet-stream"), 415, "UNSUPPORTED_MEDIA_TYPE")
    problem(send(server, o, rid, b"mlii\n1\n", "text/csv"), 422, "VALIDATION_FAILED")
    problem(send(server, o, rid, b""), 400, "POINTS_MALFORMED")
    # A seq above 2^63 - 1 (binary carries a u64).
    e = problem(send(server, o, rid, binary(2 ** 63, [("mlii", 360000, T0, [1], None)])), 422,
                "POINTS_INVALID")
    assert "2^63" in e["detail"]
    # JSON with more than 64 channels.
    many = {"seq": 5, "channels": [{"name": f"c{k}", "t0": T0, "rate": 1, "samples": [1]}
                                   for k in range(65)]}
    e = problem(server.post(f"/v1/recordings/{rid}/points", headers=hdr(o), json=many), 413,
                "BATCH_TOO_LARGE")
    assert "65 channels" in e["detail"]
    problem(send(server, o, rid, binary(6, [(f"c{k}", 1000, T0, [1], None) for k in range(65)])),
            413, "BATCH_TOO_LARGE")
    assert db.count("recording_blocks") == 0 and db.count("recording_batches") == 0
    assert server.get(f"/v1/recordings/{rid}", headers=hdr(o)).json()["points"] == 0
    # And the good one still goes in, and the largest seq.
    assert send(server, o, rid, good).status_code == 201
    r = send(server, o, rid, binary(2 ** 63 - 1, [("mlii", 360000, T0 + 10000, [1], None)]))
    assert r.status_code == 201 and r.json()["seq"] == 2 ** 63 - 1, r.text


@pytest.mark.dialect
def test_eeg_four_channels_in_json_and_csv(server, cast, db):
    chans = eeg()
    names = ["c3", "cz", "c4", "pz"]
    o = cast["owner"]
    rid = recording(server, o, EEG)["id"]
    half = N // 2
    body = {"seq": 0, "channels": [
        {"name": n, "t0": "2026-03-01T10:00:00.000Z", "rate": 256, "samples": c[:half]}
        for n, c in zip(names, chans)]}
    r = server.post(f"/v1/recordings/{rid}/points", headers=hdr(o), json=body, timeout=30)
    assert r.status_code == 201, r.text
    assert r.json()["points"] == 4 * half and r.json()["channels"] == 4
    # The second half as CSV, one column a channel, from the time it continues at.
    t1 = t_us(T0, 256000, half) // 1000
    csv = ",".join(names) + "\r\n" + "".join(
        ",".join(str(c[k]) for c in chans) + "\r\n" for k in range(half, N))
    r = send(server, o, rid, csv.encode(), "text/csv", params={"seq": 1, "rate": "256", "t0": t1})
    assert r.status_code == 201, r.text
    assert r.json()["points"] == 4 * (N - half)
    for n, c in zip(names, chans):
        p = points(server, o, rid, channel=n)
        assert p["v"] == c, n
        assert [us_of(t) for t in p["t"]] == [t_us(T0, 256000, k) for k in range(N)]
        assert [b[1] for b in blocks(db, rid, n)] == [1024] * (N // 1024) + [N % 1024]
    problem(server.get(f"/v1/recordings/{rid}/points", headers=hdr(o)), 422, "CHANNEL_REQUIRED")
    problem(server.get(f"/v1/recordings/{rid}/points?channel=o1", headers=hdr(o)), 404,
            "CHANNEL_NOT_FOUND")
    # Buckets of one channel.
    times = [(T0 * 256000 + k * 10 ** 6, 256000) for k in range(N)]
    got = points(server, o, rid, channel="cz", buckets=333)
    check_buckets(got, expect_buckets(times, chans[1], got["from"], got["to"], 333))

    # CSV export: every sample of every channel, with its physical value.
    r = server.get(f"/v1/recordings/{rid}/export.csv", headers=hdr(o), timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == "channel,t_ms,count,value" and len(lines) == 1 + 4 * N
    rows = [ln.split(",") for ln in lines[1:N + 1]]
    assert [r_[0] for r_ in rows] == ["c3"] * N
    assert [int(r_[2]) for r_ in rows] == chans[0]
    assert all(abs(float(r_[3]) - int(r_[2]) * 0.0030517578125) < 1e-6 for r_ in rows[:500])

    # EDF: read the header and the records back.
    r = server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o), timeout=30)
    assert r.status_code == 200, r.text
    edf = parse_edf(r.content)
    # Channels come in name order, labelled as EDF+ labels EEG electrodes.
    assert [s["label"] for s in edf["signals"]] == ["EEG C3", "EEG C4", "EEG Cz", "EEG Pz"]
    assert edf["start"] == "01.03.26 10.00.00"
    by_label = {"EEG " + n[0].upper() + n[1:]: c for n, c in zip(names, chans)}
    # Recorded from the start for N / 256 s; the rest of the last record
    # was not, and holds -32768.
    assert edf["annotations"] == [(0.0, N / 256, "Recorded")]
    for s in edf["signals"]:
        c = by_label[s["label"]]
        assert s["unit"] == "uV" and s["spr"] * 1.0 / edf["duration"] == 256
        assert s["samples"][:N] == c
        assert all(v == -32768 for v in s["samples"][N:])
        # physical = offset + scale * count, as the header's ranges say
        g = (s["pmax"] - s["pmin"]) / (s["dmax"] - s["dmin"])
        assert abs(g - 0.0030517578125) < 1e-6


@pytest.mark.dialect
def test_edf_starts_at_the_first_sample_and_keeps_minus_32768_for_gaps(server, cast):
    """The first data record starts at the first sample, half a second into
    10:00:00: the header holds the second, the record's time-keeping TAL
    the rest (+0.5), so nothing is moved to the whole second (issue 15
    review); -32768 is kept for gaps."""
    o = cast["owner"]
    rid = recording(server, o, EEG)["id"]
    # 256 Hz from hh:mm:ss.500, with a real count of -32768 among them.
    samples = [(k * 37) % 2000 - 1000 for k in range(512)]
    samples[5], samples[6] = -32768, 32766
    r = send(server, o, rid, binary(0, [("fp1", 256000, T0 + 500, samples, None)]))
    assert r.status_code == 201, r.text
    r = server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o))
    assert r.status_code == 200, r.text
    edf = parse_edf(r.content)
    assert edf["start"] == "01.03.26 10.00.00" and edf["duration"] == 1
    assert edf["onset"] == Fraction(1, 2)
    s = edf["signals"][0]
    assert s["label"] == "EEG Fp1"
    assert s["spr"] == 256 and edf["records"] == 2       # [10:00:00.5, 10:00:02.5)
    # Recorded from 10:00:00.500 for 512 samples, 2 s; no more.
    assert edf["annotations"] == [(0.5, 2.0, "Recorded")]
    assert s["dmin"] == -32768 and s["dmax"] == 32767
    got = s["samples"]
    assert len(got) == 512 and -32768 not in got          # kept for gaps
    g = (s["pmax"] - s["pmin"]) / (s["dmax"] - s["dmin"])
    scale = 0.0030517578125
    for d, c in zip(got, samples):
        assert abs(s["pmin"] + (d - s["dmin"]) * g - scale * c) < 1e-3, (d, c)
    assert len(set(d - c for d, c in zip(got, samples))) == 1   # exact: one shift
    # A window starting inside a second: it starts at its first sample,
    # 10:00:01.250 (sample 192); what the window leaves of the record is a gap.
    r = server.get(f"/v1/recordings/{rid}/export.edf?from={T0 + 1250}&to={T0 + 2000}",
                   headers=hdr(o))
    assert r.status_code == 200, r.text
    edf = parse_edf(r.content)
    assert edf["start"] == "01.03.26 10.00.01" and edf["records"] == 1
    assert edf["onset"] == Fraction(1, 4)
    assert edf["annotations"] == [(0.25, 0.75, "Recorded")]
    s = edf["signals"][0]
    # No count of -32768 in this window: the counts as they are.
    assert s["samples"][:192] == samples[192:384]
    assert s["samples"][192:] == [-32768] * 64


def edf_slots(edf):
    """{label: [(time in us from the epoch, as a Fraction; digital value)]}
    for every slot of an EDF read by parse_edf that holds a sample: the
    header's second + the first record's onset + the slot's place."""
    start = datetime.datetime.strptime(edf["start"], "%d.%m.%y %H.%M.%S").replace(
        tzinfo=datetime.timezone.utc)
    t0 = Fraction(int(start.timestamp())) * 10 ** 6 + edf["onset"] * 10 ** 6
    out = {}
    for s in edf["signals"]:
        per = Fraction(edf["duration"]).limit_denominator(1000) * 10 ** 6 / s["spr"]
        out[s["label"]] = [(t0 + k * per, d) for k, d in enumerate(s["samples"])
                           if d != -32768]
    return out


def check_edf_times(server, who, rid, edf, channels):
    """Every recorded sample of each channel (label: (channel, counts)) is
    in the EDF, at its recorded time within 1 us (recorded times are given
    to the microsecond, floored: query_export.c's EDF_SLOT_TOL_NS), with
    its count (one constant shift of the digital values)."""
    slots = edf_slots(edf)
    for label, (name, counts) in channels.items():
        p = points(server, who, rid, channel=name)
        want = [us_of(t) for t in p["t"]]
        assert p["v"] == counts
        got = slots[label]
        assert len(got) == len(want), (label, len(got), len(want))
        worst = max(abs(t - w) for (t, _), w in zip(got, want))
        assert worst < 1, (label, float(worst))
        assert len({d - c for (_, d), c in zip(got, counts)}) == 1


@pytest.mark.dialect
def test_edf_holds_the_last_sample(server, cast):
    """Issue 15 review: the records reach the highest slot that holds a
    sample. 256 samples at 256 Hz from 10:00:00.002: the last lies at
    10:00:00.998, whose nearest slot from the whole second was the 257th,
    past the one record the window's [10:00:00, 10:00:00.999) asked for,
    and was dropped."""
    o = cast["owner"]
    rid = recording(server, o, EEG)["id"]
    samples = [(k * 53) % 900 - 450 for k in range(256)]
    assert send(server, o, rid, binary(0, [("cz", 256000, T0 + 2, samples, None)])).status_code == 201
    r = server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o))
    assert r.status_code == 200, r.text
    edf = parse_edf(r.content)
    s = edf["signals"][0]
    got = [d for d in s["samples"] if d != -32768]
    assert len(got) == 256                                # the last one is there
    assert got[-1] - samples[-1] == got[0] - samples[0]
    check_edf_times(server, o, rid, edf, {"EEG Cz": ("cz", samples)})


@pytest.mark.dialect
def test_edf_keeps_every_samples_time(server, cast):
    """Issue 15 review: samples are not moved onto a grid from the whole
    second (up to half a period, 1.39 ms at 360 Hz). An ECG at 360 Hz from
    10:00:00.007 in three batches, each starting at its first sample's
    time rounded to the ms (joined to one series), and a window from
    inside it: every sample in the EDF at its recorded time within 1 us.
    A segment recorded apart, off that grid, is refused with the reason,
    not moved."""
    o = cast["owner"]
    rid = recording(server, o, ECG)["id"]
    samples = ecg()[:2161]
    at = 0
    for seq, n in enumerate([1000, 1000, 161]):
        t0 = T0 + 7 + round(at * 1000 / 360)
        body = binary(seq, [("ii", 360000, t0, samples[at:at + n], None)])
        assert send(server, o, rid, body).status_code == 201
        at += n
    r = server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o))
    assert r.status_code == 200, r.text
    edf = parse_edf(r.content)
    assert edf["onset"] == Fraction(7, 1000)
    check_edf_times(server, o, rid, edf, {"ECG II": ("ii", samples)})
    # A window from 10:00:01.500: its first sample (k = 538, at
    # 1501.444... ms, given as 1501.444) starts the records.
    r = server.get(f"/v1/recordings/{rid}/export.edf?from={T0 + 1500}", headers=hdr(o))
    assert r.status_code == 200, r.text
    edf = parse_edf(r.content)
    assert edf["start"] == "01.03.26 10.00.01" and edf["onset"] == Fraction(501444, 10 ** 6)
    slots = edf_slots(edf)["ECG II"]
    p = points(server, o, rid, channel="ii", **{"from": T0 + 1500})
    assert len(slots) == len(p["t"]) == 2161 - 538
    assert max(abs(t - us_of(w)) for (t, _), w in zip(slots, p["t"])) < 1
    # A segment recorded apart, 10 s later and 1 ms off the grid.
    body = binary(9, [("ii", 360000, T0 + 16008, samples[:100], None)])
    assert send(server, o, rid, body).status_code == 201
    e = problem(server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o)), 422,
                "EDF_UNSUPPORTED")
    assert "off the regular grid" in e["detail"] and "CSV" in e["detail"]


@pytest.mark.dialect
def test_a_batch_within_half_a_period_joins_its_channels_segment(server, cast, db):
    """Ingest (blocks.c tail_joins, README Biometrics): a batch whose first
    sample lies within half a sample period of the time the channel's last
    segment expects next continues that segment, and its samples take the
    segment's times (moved by the same amount, at most half a period:
    batches starting at their device's sample times rounded to the ms
    stay one segment at up to 1 kHz); further off, it starts a segment at
    its own t0. Nothing is dropped either way."""
    o = cast["owner"]
    rid = recording(server, o, EEG)["id"]
    parts = [[k * 7 + p for k in range(100)] for p in range(4)]   # 1 s at 100 Hz each
    # Expected next: +1000, +2000, +3000 ms; half a period is 5 ms.
    for seq, (t0, part) in enumerate(zip((T0, T0 + 1005, T0 + 1995, T0 + 3006), parts)):
        assert send(server, o, rid, binary(seq, [("cz", 100000, t0, part, None)])).status_code == 201
    # (seq, count, first_index, t0_ms): three batches one segment, the
    # fourth (6 ms off) a segment of its own.
    assert blocks(db, rid) == [(0, 300, 0, T0), (1, 100, 0, T0 + 3006)]
    p = points(server, o, rid)
    assert p["v"] == parts[0] + parts[1] + parts[2] + parts[3]
    assert [int(t) for t in p["t"]] == [T0 + 10 * k for k in range(300)] + \
        [T0 + 3006 + 10 * k for k in range(100)]


def test_edf_that_cannot_be_written_says_why(server, cast):
    o = cast["owner"]
    rid = recording(server, o, ECG)["id"]
    assert send(server, o, rid, binary(0, [("mlii", 360000, 1000, [1, 2, 3], None)])).status_code == 201
    e = problem(server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o)), 422,
                "EDF_UNSUPPORTED")
    assert "1970" in e["detail"] and "1985" in e["detail"]
    # CSV holds it.
    assert server.get(f"/v1/recordings/{rid}/export.csv", headers=hdr(o)).status_code == 200


def mne_or_skip():
    """Debian's python3-mne (scripts/install-deps): an EDF reader that is
    not ours."""
    return pytest.importorskip("mne", reason="python3-mne (scripts/install-deps) reads EDF+")


def read_edf_with_mne(content, tmp_path):
    mne = mne_or_skip()
    path = tmp_path / "export.edf"        # mne goes by the extension
    path.write_bytes(content)
    return mne.io.read_raw_edf(str(path), infer_types=True, preload=True, verbose="error")


def test_edf_marks_what_was_recorded_and_mne_finds_exactly_it(server, cast, tmp_path):
    """Issue 15, item 5: the whole 4-channel EEG (97,419 samples a channel
    at 256 Hz, 380.54 s) ends 117 samples before its last one-second data
    record does. An independent reader (MNE) finds EDF+ standard labels,
    an annotation that marks the recorded span, every recorded sample
    exactly, and nothing inside that span that was not recorded."""
    raw_bytes = _data("eeg_biosig_4ch_256hz_planar.i16le")
    per = len(raw_bytes) // 8
    chans = [list(struct.unpack(f"<{per}h", raw_bytes[2 * per * c:2 * per * (c + 1)]))
             for c in range(4)]
    names = ["c3", "cz", "c4", "pz"]
    o = cast["owner"]
    rid = recording(server, o, EEG)["id"]
    body = binary(0, [(n, 256000, T0, c, None) for n, c in zip(names, chans)])
    assert send(server, o, rid, body).status_code == 201
    r = server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o), timeout=60)
    assert r.status_code == 200, r.text
    raw = read_edf_with_mne(r.content, tmp_path)
    # EDF+ labels: "EEG C3" and so on; MNE takes the type from them.
    by_label = {"C3": chans[0], "Cz": chans[1], "C4": chans[2], "Pz": chans[3]}
    assert sorted(raw.ch_names) == sorted(by_label)
    assert set(raw.get_channel_types()) == {"eeg"}
    assert raw.info["sfreq"] == 256
    assert raw.info["meas_date"].timestamp() * 1000 == T0
    # The file holds whole records (381 s); one annotation says which part
    # was recorded: from the first sample for 97,419 / 256 s.
    assert len(raw.times) == 381 * 256
    spans = [(a["onset"], a["duration"]) for a in raw.annotations
             if a["description"] == "Recorded"]
    assert spans == [(0.0, per / 256)], list(raw.annotations)
    first = round(spans[0][0] * 256)
    last = round((spans[0][0] + spans[0][1]) * 256)
    assert last - first == per
    scale = 0.0030517578125      # uV a count (the EEG data type)
    for label, counts in by_label.items():
        uv = raw.get_data(picks=[label])[0] * 1e6
        got = uv[first:last]
        # Every recorded sample, within the digital resolution.
        assert len(got) == len(counts)
        worst = max(abs(g - c * scale) for g, c in zip(got, counts))
        assert worst <= scale / 2, (label, worst)
    assert r.content[192:197] == b"EDF+C"


def mne_channel(content, tmp_path, label):
    """One signal of an EDF read by MNE alone (include=[label]): read with
    the others, MNE resamples every signal to the highest rate."""
    mne = mne_or_skip()
    path = tmp_path / "one.edf"
    path.write_bytes(content)
    return mne.io.read_raw_edf(str(path), include=[label], preload=True, verbose="error")


def check_mne_channel(content, tmp_path, label, rate, times_us, counts, scale):
    """MNE's reading of one signal holds each recorded sample (times_us:
    its recorded time, counts: its count), each in the slot that lies
    within 1 us of that time, and nothing else: every other slot lies
    outside the signal's "Recorded" annotations and holds the gap value.
    Slot k lies at the header's second + the first record's onset (its
    time-keeping TAL: MNE sets subseconds to 0) + k / rate."""
    raw = mne_channel(content, tmp_path, label)
    assert raw.ch_names == [label] and raw.info["sfreq"] == rate
    onset = parse_edf(content)["onset"]
    t0 = Fraction(int(raw.info["meas_date"].timestamp())) * 10 ** 6 + onset * 10 ** 6
    per = Fraction(10 ** 6, rate)
    got = raw.get_data()[0] * 1e6            # uV, as the data type's unit
    want = {}
    for t, c in zip(times_us, counts):
        k = round((t - t0) / per)
        assert abs(t0 + k * per - t) < 1, (label, t, float(t0 + k * per - t))
        assert k not in want and 0 <= k < len(got), (label, k)
        want[k] = c
    # The signal's recorded spans (onsets from the first record's start).
    spans = set()
    for a in raw.annotations:
        if a["description"] in ("Recorded", "Recorded@@" + label):
            first = round(a["onset"] * rate)
            spans.update(range(first, first + round(a["duration"] * rate)))
    assert spans == set(want), (label, len(spans), len(want))
    for k, c in want.items():
        assert abs(got[k] - c * scale) <= scale / 2, (label, k, got[k], c)
    lowest = min(c for c in counts) * scale
    assert all(got[k] < lowest - scale for k in range(len(got)) if k not in want)
    return len(want)


@pytest.mark.dialect
def test_edf_of_two_rates_from_inside_the_recording(server, cast, tmp_path):
    """Issue 15 review: channels at 256 and 100 Hz sent together from
    10:00:00, exported from inside the recording (from=10:00:05.001, whose
    first samples are 10:00:05.00390625 at 256 Hz and 10:00:05.010 at 100
    Hz), were refused 422 EDF_UNSUPPORTED: the file started at the earliest
    of them, on one channel's grid and not the other's. It starts at
    10:00:05.000, the last point before them that both grids share (they
    meet every 0.25 s), and MNE finds every sample that was recorded in the
    window, each at its recorded time within 1 us, and nothing else."""
    o = cast["owner"]
    rid = recording(server, o, EEG)["id"]
    fast = [(k * 37) % 2000 - 1000 for k in range(2560)]    # 10 s at 256 Hz
    slow = [(k * 53) % 1500 - 700 for k in range(1000)]     # 10 s at 100 Hz
    body = binary(0, [("fp1", 256000, T0, fast, None), ("o1", 100000, T0, slow, None)])
    assert send(server, o, rid, body).status_code == 201
    scale = 0.0030517578125
    for frm, to, onset in ((T0 + 5001, None, Fraction(0)),
                           (T0 + 5010, None, Fraction(0)),
                           (T0 + 2501, T0 + 7777, Fraction(1, 2)),
                           (None, None, Fraction(0))):
        window = {"from": frm, "to": to}
        window = {k: v for k, v in window.items() if v is not None}
        r = server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o), params=window)
        assert r.status_code == 200, (window, r.text)
        edf = parse_edf(r.content)
        assert edf["onset"] == onset, (window, edf["onset"])
        assert [s["spr"] for s in edf["signals"]] == [256, 100]
        for label, name, rate in (("EEG Fp1", "fp1", 256), ("EEG O1", "o1", 100)):
            p = points(server, o, rid, channel=name, **window)
            n = check_mne_channel(r.content, tmp_path, label, rate,
                                  [us_of(t) for t in p["t"]], p["v"], scale)
            assert n == len(p["t"]) > 0
            if frm == T0 + 5001:
                assert n == {"fp1": 2560 - 1281, "o1": 1000 - 501}[name]


def test_edf_refuses_channels_offset_from_each_other_saying_so(server, cast):
    """Channels that really are offset from each other (here a 100 Hz
    channel started 3 ms after a 256 Hz one: no point of one grid is on
    the other's) cannot share EDF+C's one start: refused with their own
    reason, not taken for a segment recorded apart; each on its own
    exports."""
    o = cast["owner"]
    rid = recording(server, o, EEG)["id"]
    body = binary(0, [("fp1", 256000, T0, list(range(512)), None),
                      ("o1", 100000, T0 + 3, list(range(200)), None)])
    assert send(server, o, rid, body).status_code == 201
    e = problem(server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o)), 422,
                "EDF_UNSUPPORTED")
    assert "channel o1's samples lie" in e["detail"] and "channel fp1" in e["detail"], e
    assert "not sampled from one start" in e["detail"] and "?channel=o1" in e["detail"], e
    assert "segment recorded apart" not in e["detail"]
    for name in ("fp1", "o1"):
        r = server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o),
                       params={"channel": name})
        assert r.status_code == 200, r.text


@pytest.mark.dialect
def test_edf_refuses_two_samples_in_one_slot(server, cast):
    """Issue 15 review: two samples of a channel at one time (a batch sent
    again under another seq, overlapping the first) went to one EDF slot
    and the earlier was dropped in silence. An EDF signal holds one value
    a slot, so the export is refused, 422 EDF_OVERLAPPING_SAMPLES, naming
    the channel and the time; CSV lists both, and a window without the
    overlap exports."""
    o = cast["owner"]
    rid = recording(server, o, EEG)["id"]
    first = [(k * 37) % 2000 - 1000 for k in range(512)]     # 10:00:00-10:00:02
    again = [k - 500 for k in range(256)]                    # 10:00:01-10:00:02
    assert send(server, o, rid, binary(0, [("cz", 256000, T0, first, None)])).status_code == 201
    assert send(server, o, rid, binary(1, [("cz", 256000, T0 + 1000, again, None)])).status_code == 201
    e = problem(server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o)), 422,
                "EDF_OVERLAPPING_SAMPLES")
    assert "channel cz holds two samples at t_ms %d.000" % (T0 + 1000) in e["detail"], e
    assert "CSV" in e["detail"]
    csv = server.get(f"/v1/recordings/{rid}/export.csv", headers=hdr(o)).text.splitlines()
    assert len(csv) == 1 + 512 + 256
    assert sum(1 for ln in csv[1:] if Decimal(ln.split(",")[1]) == T0 + 1000) == 2
    r = server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o),
                   params={"to": T0 + 1000})
    assert r.status_code == 200, r.text
    s = parse_edf(r.content)["signals"][0]
    assert [d for d in s["samples"] if d != -32768] == first[:256]


def parse_edf(b):
    """An EDF+C file read by hand: the ordinary signals' samples and the
    annotations (onset, duration, text) of its "EDF Annotations" signal,
    the last; each record's time-keeping TAL is checked, not returned."""
    h = b[:256].decode("ascii")
    ns = int(h[252:256])
    nrec, dur = int(h[236:244]), float(h[244:252])
    assert int(h[184:192]) == 256 * (ns + 1)
    assert h[192:197] == "EDF+C"
    f = b[256:256 * (ns + 1)].decode("ascii")
    at = 0

    def field(w):
        nonlocal at
        out = [f[at + w * i:at + w * (i + 1)].strip() for i in range(ns)]
        at += w * ns
        return out

    label, _, unit = field(16), field(80), field(8)
    pmin, pmax, dmin, dmax = field(8), field(8), field(8), field(8)
    _, spr, _ = field(80), field(8), field(32)
    sig = [{"label": label[i], "unit": unit[i], "pmin": float(pmin[i]), "pmax": float(pmax[i]),
            "dmin": int(dmin[i]), "dmax": int(dmax[i]), "spr": int(spr[i]), "samples": []}
           for i in range(ns)]
    assert label[-1] == "EDF Annotations"
    data = b[256 * (ns + 1):]
    per = sum(s["spr"] for s in sig) * 2
    assert len(data) == nrec * per
    notes, onsets = [], []
    for r in range(nrec):
        o = r * per
        for s in sig[:-1]:
            s["samples"] += list(struct.unpack(f"<{s['spr']}h", data[o:o + 2 * s["spr"]]))
            o += 2 * s["spr"]
        *tals, rest = data[o:o + 2 * sig[-1]["spr"]].split(b"\x14\0")
        assert rest.strip(b"\0") == b""                     # NULs after the TALs
        # Time keeping: "+<onset>\x14", record r at the first's + r * dur.
        assert tals[0][:1] == b"+" and tals[0][-1:] == b"\x14"
        onsets.append(Fraction(tals[0][1:-1].decode()))
        assert onsets[r] == onsets[0] + r * Fraction(h[244:252].strip())
        for tal in tals[1:]:
            head, text = tal.decode().split("\x14", 1)
            onset, _, duration = head.partition("\x15")
            notes.append((float(onset), float(duration), text))
    return {"signals": sig[:-1], "annotations": notes, "records": nrec, "duration": dur,
            "onset": onsets[0] if onsets else None,
            "start": h[168:176] + " " + h[176:184], "patient": h[8:88].strip()}


@pytest.mark.dialect
def test_rr_intervals_as_an_irregular_channel(server, cast, db):
    intervals = rr()[:3000]
    ts, t = [], T0
    for x in intervals:
        t += x
        ts.append(t)
    o = cast["owner"]
    rid = recording(server, o, HRV)["id"]
    # One beat a batch for a while (a device sending live), then larger ones.
    seq = 0
    for k in range(40):
        r = send(server, o, rid, binary(seq, [("rr", 0, 0, [intervals[k]], [ts[k]])]))
        assert r.status_code == 201, r.text
        seq += 1
    for a in range(40, 3000, 700):
        b = min(a + 700, 3000)
        r = send(server, o, rid, binary(seq, [("rr", 0, 0, intervals[a:b], ts[a:b])]))
        assert r.status_code == 201, r.text
        seq += 1
    assert [b[1] for b in blocks(db, rid)] == [1024, 1024, 3000 - 2048]
    p = points(server, o, rid)
    assert p["v"] == intervals and [int(x) for x in p["t"]] == ts and p["rate"] is None
    frm, to = ts[100], ts[2000]
    p = points(server, o, rid, **{"from": frm, "to": to})
    assert p["v"] == intervals[100:2000]
    got = points(server, o, rid, buckets=50)
    check_buckets(got, expect_buckets([(x, 1) for x in ts], intervals, got["from"], got["to"], 50))
    # CSV with a first column of times (no rate): irregular too.
    rid2 = recording(server, o, HRV)["id"]
    csv = "t,rr\n" + "".join(f"{a},{b}\n" for a, b in zip(ts[:500], intervals[:500]))
    r = send(server, o, rid2, csv.encode(), "text/csv", params={"seq": 0})
    assert r.status_code == 201, r.text
    p = points(server, o, rid2)
    assert p["v"] == intervals[:500] and [int(x) for x in p["t"]] == ts[:500]
    # No regular channel: no EDF.
    problem(server.get(f"/v1/recordings/{rid}/export.edf", headers=hdr(o)), 422,
            "NO_REGULAR_CHANNELS")


@pytest.mark.dialect
def test_failed_recording_discards_its_points_and_closed_ones_take_none(server, cast, db):
    samples = ecg()[:5000]
    o = cast["owner"]
    failed = recording(server, o, ECG)["id"]
    kept = recording(server, o, ECG)["id"]
    for rid in (failed, kept):
        send_ecg_in_batches(server, o, rid, samples, [2000, 3000])
    problem(server.post(f"/v1/recordings/{failed}/finish", headers=hdr(o),
                        json={"status": "recording"}), 422, "VALIDATION_FAILED")
    r = server.post(f"/v1/recordings/{failed}/finish", headers=hdr(o), json={"status": "failed"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "failed" and r.json()["points"] == 0 and r.json()["ended_at"]
    assert db.count("recording_blocks", f"recording_id = '{failed}'") == 0
    assert db.count("recording_batches", f"recording_id = '{failed}'") == 0
    assert db.count("audit_log", f"action = 'recordings.finish' AND entity_id = '{failed}'") == 1
    r = server.post(f"/v1/recordings/{kept}/finish", headers=hdr(o), json={"status": "successful"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "successful" and r.json()["points"] == 5000
    assert len(blocks(db, kept)) == 5
    for rid in (failed, kept):
        problem(send(server, o, rid, binary(9, [("mlii", 360000, T0, [1], None)])), 409,
                "RECORDING_CLOSED")
        problem(server.post(f"/v1/recordings/{rid}/finish", headers=hdr(o),
                            json={"status": "successful"}), 409, "RECORDING_CLOSED")
    # A retry of a batch the successful recording stored is still a duplicate.
    r = send(server, o, kept, binary(0, [("mlii", 360000, T0, samples[:2000], None)]))
    assert r.status_code == 200 and r.json()["duplicate"] is True
    assert points(server, o, kept)["v"] == samples
    # status is the actions' only.
    problem(server.request("PATCH", f"/v1/recordings/{kept}", headers=hdr(o),
                           json={"status": "recording"}), 422, "VALIDATION_FAILED")


@pytest.mark.dialect
def test_buckets_wider_than_blocks_use_stats_that_match_the_samples(server, cast, db):
    samples = ecg()
    o = cast["owner"]
    rid = recording(server, o, ECG)["id"]
    send_ecg_in_batches(server, o, rid, samples, [7000, 500, 500, 12000])
    # Each block's stored count, min, max and sum are its samples'.
    rows = db.query("SELECT first_index, count, v_min, v_max, v_sum FROM recording_blocks "
                    f"WHERE recording_id = '{rid}' ORDER BY seq")
    assert len(rows) == 20
    for first, count, lo, hi, total in ((int(x) for x in row) for row in rows):
        part = samples[first:first + count]
        assert (lo, hi, total) == (min(part), max(part), sum(part))
    # One bucket over everything, and buckets several blocks wide (a block
    # is 2.8 s): whole blocks are added from those stats, the rest decoded.
    times = [(T0 * 360000 + k * 10 ** 6, 360000) for k in range(N)]
    end = t_us(T0, 360000, N - 1) // 1000 + 1
    for frm, to, nb in ((None, None, 1), (None, None, 3), (None, None, 7),
                        (T0 + 2000, T0 + 50000, 4), (T0 - 60000, T0 + 120000, 2)):
        q = {"buckets": nb}
        if frm is not None:
            q.update({"from": frm, "to": to})
        got = points(server, o, rid, **q)
        f, t = (frm, to) if frm is not None else (T0, end)
        want = expect_buckets(times, samples, f, t, nb)
        check_buckets(got, want)
        assert sum(got["count"]) == sum(b[0] for b in want)
    got = points(server, o, rid, buckets=1)
    assert got["count"] == [N] and got["min"] == [min(samples)] and got["max"] == [max(samples)]
    assert abs(float(got["mean"][0]) - sum(samples) / N) < 1e-9 * N
    # The bound is the documented one.
    assert points(server, o, rid, buckets=10000)["buckets"] == 10000
    e = problem(server.get(f"/v1/recordings/{rid}/points?buckets=10001", headers=hdr(o)), 422,
                "VALIDATION_FAILED")
    assert e["errors"][0]["field"] == "buckets" and "10000" in e["errors"][0]["detail"]


def test_chart_svg_is_well_formed(server, cast):
    o = cast["owner"]
    rid = recording(server, o, ECG)["id"]
    send_ecg_in_batches(server, o, rid, ecg(), [N])
    r = server.get(f"/v1/recordings/{rid}/chart.svg?channel=mlii", headers=hdr(o), timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(r.content)
    assert root.tag.endswith("svg")
    assert "ECG" in r.text and "mlii" in r.text
    r = server.get(f"/v1/recordings/{rid}/chart.svg?buckets=50&from={T0}&to={T0 + 1000}",
                   headers=hdr(o))
    assert r.status_code == 200 and ET.fromstring(r.content) is not None
    problem(server.get(f"/v1/recordings/{rid}/chart.svg?buckets=0", headers=hdr(o)), 422,
            "VALIDATION_FAILED")
    problem(server.get(f"/v1/recordings/{rid}/points?from={T0 + 5}&to={T0}", headers=hdr(o)),
            422, "VALIDATION_FAILED")


# --------------------------------------------------------------------------
# access and audit


READS = ("/points?channel=mlii", "/points?channel=mlii&buckets=10", "/channels",
         "/export.csv", "/export.edf", "/chart.svg")


def test_who_reads_and_writes_a_recording_and_reads_are_audited(server, cast, db):
    c = cast
    mine = recording(server, c["owner"], ECG, location="Home", feedback="tired")["id"]
    send_ecg_in_batches(server, c["owner"], mine, ecg()[:2000], [2000])
    # An admin may record for a person; a member only for themselves.
    r = server.post("/v1/recordings", headers=hdr(c["admin"]),
                    json={"data_type_id": ECG, "user_id": c["child"]["id"]})
    assert r.status_code == 201, r.text
    childs = r.json()["id"]
    assert r.json()["user_id"] == c["child"]["id"]
    problem(server.post("/v1/recordings", headers=hdr(c["other"]),
                        json={"data_type_id": ECG, "user_id": c["owner"]["id"]}), 403, "FORBIDDEN")
    r = send(server, c["admin"], childs, binary(0, [("mlii", 360000, T0, [5, 6, 7], None)]))
    assert r.status_code == 201, r.text
    assert db.count("audit_log", f"action = 'recordings.points.write' AND entity_id = '{childs}'") == 1

    cases = [  # who, recording, may read
        ("owner", mine, True), ("therapist", mine, True), ("admin", mine, True),
        ("other", mine, False), ("guardian", mine, False), ("therapist2", mine, False),
        ("guardian", childs, True), ("child", childs, True), ("owner", childs, False),
        ("therapist", childs, False)]
    reads = {mine: 0, childs: 0}
    for who, rid, ok in cases:
        r = server.get(f"/v1/recordings/{rid}", headers=hdr(c[who]))
        assert r.status_code == (200 if ok else 404), (who, r.text)
        for path in READS:
            r = server.get(f"/v1/recordings/{rid}{path}", headers=hdr(c[who]), timeout=30)
            if ok:
                assert r.status_code == 200, (who, path, r.text)
                reads[rid] += 1
            else:
                problem(r, 404, "NOT_FOUND")
    for path in READS:
        problem(server.get(f"/v1/recordings/{mine}{path}"), 401, "UNAUTHORIZED")
    # The owner's location and feedback are sealed: only the API opens them.
    r = server.get(f"/v1/recordings/{mine}", headers=hdr(c["therapist"]))
    assert r.json()["feedback"] == "tired" and r.json()["location"] == "Home"
    raw = db.query(f"SELECT feedback FROM recordings WHERE id = '{mine}'")[0][0]
    assert "tired" not in str(raw)
    # Every successful read of points left one audit record, no values in it.
    # (written by the audit writer, within audit_flush_ms)
    for rid, n in reads.items():
        wait_until(lambda: db.count("audit_log", f"action = 'recordings.points.read' "
                                    f"AND entity_id = '{rid}'") >= n, timeout=5, what=rid)
        assert db.count("audit_log", f"action = 'recordings.points.read' "
                        f"AND entity_id = '{rid}'") == n, rid
    changes = db.scalar("SELECT changes FROM audit_log WHERE action = 'recordings.points.read' "
                        f"AND entity_id = '{mine}' ORDER BY seq LIMIT 1")
    assert '"format"' in changes and '"points"' in changes and "[" not in changes

    # Writes: the owner and admins; readers who may not write get 403.
    body = binary(5, [("mlii", 360000, T0 + 100000, [1, 2, 3], None)])
    problem(send(server, c["therapist"], mine, body), 403, "FORBIDDEN")
    problem(send(server, c["guardian"], childs, body), 403, "FORBIDDEN")
    problem(send(server, c["other"], mine, body), 404, "NOT_FOUND")
    problem(send(server, {"token": "x"}, mine, body), 401, "UNAUTHORIZED")
    problem(server.post(f"/v1/recordings/{mine}/finish", headers=hdr(c["therapist"]),
                        json={"status": "failed"}), 403, "FORBIDDEN")
    problem(server.post(f"/v1/recordings/{mine}/finish", headers=hdr(c["other"]),
                        json={"status": "failed"}), 404, "NOT_FOUND")
    problem(send(server, c["owner"], secrets.token_hex(4), body), 404, "NOT_FOUND")
    assert send(server, c["child"], childs, body).status_code == 201
    assert server.get(f"/v1/recordings/{mine}", headers=hdr(c["owner"])).json()["points"] == 2000


def test_other_roles_find_nothing_and_readers_change_nothing(server, cast, db):
    c = cast
    mine = recording(server, c["owner"], ECG)["id"]
    send_ecg_in_batches(server, c["owner"], mine, ecg()[:1000], [1000])
    r = server.post("/v1/recordings", headers=hdr(c["admin"]),
                    json={"data_type_id": ECG, "user_id": c["child"]["id"]})
    assert r.status_code == 201, r.text
    childs = r.json()["id"]
    body = binary(9, [("mlii", 360000, T0 + 100000, [1, 2, 3], None)])
    # Instructors and partner admins: no such recording, whatever they ask.
    for role in ("instructor", "partner_admin"):
        who = person(server, role, role)
        for rid in (mine, childs):
            problem(server.get(f"/v1/recordings/{rid}", headers=hdr(who)), 404, "NOT_FOUND")
            for path in READS:
                problem(server.get(f"/v1/recordings/{rid}{path}", headers=hdr(who)), 404,
                        "NOT_FOUND")
            problem(send(server, who, rid, body), 404, "NOT_FOUND")
            problem(server.post(f"/v1/recordings/{rid}/finish", headers=hdr(who),
                                json={"status": "failed"}), 404, "NOT_FOUND")
            problem(server.request("PATCH", f"/v1/recordings/{rid}", headers=hdr(who),
                                   json={"feedback": "x"}), 404, "NOT_FOUND")
        r = server.get("/v1/recordings", headers=hdr(who))
        assert r.status_code in (200, 403), r.text
        if r.status_code == 200:
            assert r.json()["data"] == []
    # Guardians and practitioners read but neither change nor finish.
    for who, rid in (("guardian", childs), ("therapist", mine)):
        problem(server.request("PATCH", f"/v1/recordings/{rid}", headers=hdr(c[who]),
                               json={"feedback": "fine"}), 403, "FORBIDDEN")
        problem(server.post(f"/v1/recordings/{rid}/finish", headers=hdr(c[who]),
                            json={"status": "successful"}), 403, "FORBIDDEN")
    for rid in (mine, childs):
        r = server.get(f"/v1/recordings/{rid}", headers=hdr(c["admin"]))
        assert r.json()["status"] == "recording" and r.json()["feedback"] is None
    # A practitioner whose relationship ended sees the recording no more.
    assert server.get(f"/v1/recordings/{mine}/points", headers=hdr(c["therapist"])).status_code == 200
    rel = db.scalar(f"SELECT id FROM relationships WHERE lead_id = '{c['therapist']['id']}' "
                    f"AND follower_id = '{c['owner']['id']}'")
    r = server.post(f"/v1/relationships/{rel}/end", headers=hdr(c["therapist"]))
    assert r.status_code == 200, r.text
    problem(server.get(f"/v1/recordings/{mine}", headers=hdr(c["therapist"])), 404, "NOT_FOUND")
    for path in READS:
        problem(server.get(f"/v1/recordings/{mine}{path}", headers=hdr(c["therapist"])), 404,
                "NOT_FOUND")
    problem(server.post(f"/v1/recordings/{mine}/finish", headers=hdr(c["therapist"]),
                        json={"status": "failed"}), 404, "NOT_FOUND")


def test_admins_store_no_points_for_a_minor_without_consent(server, cast, db):
    c = cast
    kid = person(server, "kid", date_of_birth=years_ago(11))
    # No guardian consent: an admin cannot even open a recording.
    problem(server.post("/v1/recordings", headers=hdr(c["admin"]),
                        json={"data_type_id": HRV, "user_id": kid["id"]}), 403, "CONSENT_REQUIRED")
    rel = relate(server, c["admin"], c["guardian"], kid, "guardian_of")
    r = server.post("/v1/recordings", headers=hdr(c["admin"]),
                    json={"data_type_id": HRV, "user_id": kid["id"]})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert send(server, c["admin"], rid, binary(0, [("rr", 0, 0, [800], [T0])])).status_code == 201
    r = server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(c["guardian"]))
    assert r.status_code == 200, r.text
    # Consent gone with the relationship: the admin's batch is refused too.
    problem(send(server, c["admin"], rid, binary(1, [("rr", 0, 0, [810], [T0 + 800])])), 403,
            "CONSENT_REQUIRED")
    assert db.count("recording_batches", f"recording_id = '{rid}'") == 1
    assert server.get(f"/v1/recordings/{rid}", headers=hdr(c["admin"])).json()["points"] == 1


def test_points_of_a_minor_need_guardian_consent(server, cast, db):
    c = cast
    kid = person(server, "kid", date_of_birth=years_ago(11))
    problem(server.post("/v1/recordings", headers=hdr(kid), json={"data_type_id": HRV}), 403,
            "CONSENT_REQUIRED")
    rel = relate(server, c["admin"], c["guardian"], kid, "guardian_of")
    rid = recording(server, kid, HRV)["id"]
    assert send(server, kid, rid, binary(0, [("rr", 0, 0, [800], [T0])])).status_code == 201
    r = server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(c["guardian"]))
    assert r.status_code == 200, r.text
    problem(send(server, kid, rid, binary(1, [("rr", 0, 0, [810], [T0 + 800])])), 403,
            "CONSENT_REQUIRED")
    assert db.count("recording_batches", f"recording_id = '{rid}'") == 1


@pytest.mark.dialect
def test_erasing_a_person_deletes_their_points(server, cast, db):
    o = cast["owner"]
    rid = recording(server, o, ECG)["id"]
    send_ecg_in_batches(server, o, rid, ecg()[:3000], [3000])
    r = server.post(f"/v1/users/{o['id']}/erase", headers=hdr(cast["admin"]))
    assert r.status_code in (200, 204), r.text
    assert db.count("recordings", f"id = '{rid}'") == 0
    assert db.count("recording_blocks", f"recording_id = '{rid}'") == 0
    assert db.count("recording_batches", f"recording_id = '{rid}'") == 0


# --------------------------------------------------------------------------
# the GDPR export's links to a recording's points (issue 15, item 6)


def all_points(server, who, link):
    """Every page of a points link of a GDPR export, following its Link
    rel="next" headers: ([(channel, t_us, count)], [rows a page])."""
    rows, pages, url = [], [], link
    while url:
        r = server.get(url, headers=hdr(who), timeout=60)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/csv")
        lines = r.text.splitlines()
        assert lines[0] == "channel,t_ms,count,value"
        for ln in lines[1:]:
            ch, t, c, _ = ln.split(",")
            rows.append((ch, us_of(t), int(c)))
        pages.append(len(lines) - 1)
        url = r.links.get("next", {}).get("url")
    return rows, pages


@pytest.mark.dialect
def test_gdpr_export_links_every_recording_to_all_its_points(start_server):
    server = start_server(env={"CAREBASE_POINTS_PAGE_MAX": "5000"})
    o, other = person(server, "owner"), person(server, "other")
    admin = person(server, "admin", "admin")
    chans, beats = eeg(), rr()[:3000]
    # EEG, two channels of 6,000 samples in two batches, the later one
    # sent first (its blocks come before the earlier ones by seq).
    eeg_id = recording(server, o, EEG)["id"]
    for seq, (a, b) in ((1, (2560, 6000)), (0, (0, 2560))):
        body = binary(seq, [(n, 256000, T0 + a * 1000 // 256, c[a:b], None)
                            for n, c in (("c3", chans[0]), ("cz", chans[1]))])
        assert send(server, o, eeg_id, body).status_code == 201
    want_eeg = [(n, t_us(T0, 256000, k), c[k]) for n, c in (("c3", chans[0]), ("cz", chans[1]))
                for k in range(6000)]
    # RR intervals (irregular), a failed recording (its points discarded)
    # and one with no points.
    hrv_id = recording(server, o, HRV)["id"]
    ts = [T0 + sum(beats[:k + 1]) for k in range(len(beats))]
    assert send(server, o, hrv_id, binary(0, [("rr", 0, 0, beats, ts)])).status_code == 201
    failed_id = recording(server, o, ECG)["id"]
    send_ecg_in_batches(server, o, failed_id, ecg()[:1000], [1000])
    r = server.post(f"/v1/recordings/{failed_id}/finish", headers=hdr(o), json={"status": "failed"})
    assert r.status_code == 200, r.text
    empty_id = recording(server, o, ECG)["id"]
    theirs = recording(server, other, ECG)["id"]
    send_ecg_in_batches(server, other, theirs, ecg()[:500], [500])

    # The export names every recording of the person, with a link to all
    # its points.
    r = server.get("/v1/me/export", headers=hdr(o))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["export_id"] and doc["links_expire_at"]
    mine = {x["id"] for x in doc["records"]["recordings"]}
    assert mine == {eeg_id, hrv_id, failed_id, empty_id}
    links = {x["recording_id"]: x for x in doc["records"]["recording_points"]}
    assert set(links) == mine
    assert links[eeg_id]["points"] == 12000 and links[hrv_id]["points"] == 3000
    assert links[failed_id]["points"] == 0 and links[empty_id]["points"] == 0
    assert [c["name"] for c in links[eeg_id]["channels"]] == ["c3", "cz"]
    for rid, x in links.items():
        assert x["csv"] == f"/v1/exports/{doc['export_id']}/recordings/{rid}/points.csv"

    # Following it gives back exactly what was sent, channel by channel in
    # time order, in pages of about 5,000 samples (whole blocks).
    rows, pages = all_points(server, o, links[eeg_id]["csv"])
    assert rows == want_eeg
    assert len(pages) >= 3 and all(n <= 5000 + 4096 for n in pages), pages
    rows, _ = all_points(server, o, links[hrv_id]["csv"])
    assert rows == [("rr", t * 1000, v) for t, v in zip(ts, beats)]
    for rid in (failed_id, empty_id):
        assert all_points(server, o, links[rid]["csv"]) == ([], [0])
    wait_until(lambda: server.db.count("audit_log", "action = 'recordings.points.read' "
                                       f"AND entity_id = '{eeg_id}'") >= len(pages),
               timeout=5, what="the pages' audit rows")
    assert server.db.count("audit_log", "action = 'recordings.points.read' "
                           f"AND entity_id = '{eeg_id}'") == len(pages)

    # Only for the session that made the export: another person, an
    # admin, the person's own other session find nothing there.
    link = links[eeg_id]["csv"]
    problem(server.get(link, headers=hdr(other)), 404, "NOT_FOUND")
    problem(server.get(link, headers=hdr(admin)), 404, "NOT_FOUND")
    second = login(server, o["email"])
    problem(server.get(link, headers=hdr(second)), 404, "NOT_FOUND")
    assert server.get(link, headers=hdr(o)).status_code == 200
    # A link names its own export's recordings only.
    problem(server.get(link.replace(eeg_id, theirs), headers=hdr(o)), 404, "NOT_FOUND")
    problem(server.get(link + "?cursor=nonsense", headers=hdr(o)), 422, "VALIDATION_FAILED")
    # The second session's own export has other links, that work for it.
    doc2 = server.get("/v1/me/export", headers=hdr(second)).json()
    assert doc2["export_id"] != doc["export_id"]
    link2 = {x["recording_id"]: x["csv"] for x in doc2["records"]["recording_points"]}[eeg_id]
    assert all_points(server, second, link2)[0] == want_eeg
    problem(server.get(link2, headers=hdr(o)), 404, "NOT_FOUND")

    # An admin's export of the person: links for the admin's session.
    r = server.get(f"/v1/users/{o['id']}/export", headers=hdr(admin))
    assert r.status_code == 200, r.text
    alink = {x["recording_id"]: x["csv"]
             for x in r.json()["records"]["recording_points"]}[hrv_id]
    assert all_points(server, admin, alink)[0] == [("rr", t * 1000, v) for t, v in zip(ts, beats)]
    problem(server.get(alink, headers=hdr(o)), 404, "NOT_FOUND")

    # The export ends with its session: signed out, or past its time.
    assert server.post("/v1/auth/logout", headers=hdr(o)).status_code == 204
    problem(server.get(link, headers=hdr(o)), 401, "SESSION_EXPIRED")
    server.db.execute(f"UPDATE auth_sessions SET expires_at = 1 WHERE user_id = '{admin['id']}'")
    problem(server.get(alink, headers=hdr(admin)), 401, "SESSION_EXPIRED")


def test_a_link_of_someone_elses_export_needs_the_permission_when_followed(server, cast):
    """Issue 15 (review, item 6): what made the export must still hold when
    its link is followed. A therapist (their practitioner) whose role was
    granted users:export:all exports the person; once the permission is
    taken from the role, the links of that export stop working (403), and
    work again when it is given back. The person's own links need nothing."""
    admin, th, o = cast["admin"], cast["therapist"], cast["owner"]
    rid = recording(server, o, ECG)["id"]
    send_ecg_in_batches(server, o, rid, ecg()[:500], [500])
    before = server.get("/v1/roles/therapist", headers=hdr(admin)).json()["permissions"]

    def set_perms(perms):
        r = server.request("PUT", "/v1/roles/therapist/permissions", headers=hdr(admin),
                           json={"permissions": perms})
        assert r.status_code == 200, r.text

    problem(server.get(f"/v1/users/{o['id']}/export", headers=hdr(th)), 403, "FORBIDDEN")
    set_perms(before + ["users:export:all"])
    r = server.get(f"/v1/users/{o['id']}/export", headers=hdr(th))
    assert r.status_code == 200, r.text
    link = {x["recording_id"]: x["csv"] for x in r.json()["records"]["recording_points"]}[rid]
    assert len(all_points(server, th, link)[0]) == 500
    own = server.get("/v1/me/export", headers=hdr(o)).json()
    own_link = {x["recording_id"]: x["csv"] for x in own["records"]["recording_points"]}[rid]

    set_perms(before)                                   # revoked
    problem(server.get(link, headers=hdr(th)), 403, "FORBIDDEN")
    problem(server.get(link + "?cursor=mlii:0:0", headers=hdr(th)), 403, "FORBIDDEN")
    assert len(all_points(server, o, own_link)[0]) == 500
    set_perms(before + ["users:export:all"])            # given back
    assert len(all_points(server, th, link)[0]) == 500


def test_the_points_query_refuses_unknown_parameters_as_lists_do(server, cast):
    """A misspelt parameter (?form= for ?from=) is refused, 400
    UNKNOWN_PARAMETER naming it, as a resource's list refuses one, and not
    read as the whole recording; the query's own parameters still pass."""
    o = cast["owner"]
    rid = recording(server, o, ECG)["id"]
    assert send(server, o, rid, binary(0, [("mlii", 1000000, T0, list(range(10)), None)])
                ).status_code == 201
    for params in ({"form": str(T0)}, {"channel": "mlii", "limit": "5"},
                   {"from": str(T0), "buckets": "2", "sort": "t"}):
        r = server.get(f"/v1/recordings/{rid}/points", headers=hdr(o), params=params)
        p = problem(r, 400, "UNKNOWN_PARAMETER")
        assert p["parameter"] in ("form", "limit", "sort"), p
    assert len(points(server, o, rid, channel="mlii", **{"from": str(T0), "to": str(T0 + 5)})
               ["v"]) == 5
    assert points(server, o, rid, buckets="2")["buckets"] == 2
    # The exports take the window only.
    problem(server.get(f"/v1/recordings/{rid}/export.csv", headers=hdr(o),
                       params={"buckets": "2"}), 400, "UNKNOWN_PARAMETER")
