"""Scoped lists use indexes: the database's plan of each scoped list, for
each role, reads the big table through an index and never sorts the whole
of it (issue 20, item 1).

The server runs with explain_lists = 1, which logs the plan of every list
statement as it is run, with the same bound values (event=list_plan, a
line a plan row, under the request's id): SQLite's EXPLAIN QUERY PLAN
(id, parent, detail) and PostgreSQL's EXPLAIN (text). Thousands of rows
are loaded (and ANALYZEd) so that the planner prefers an index where one
serves.

What fails, for the big table T of the list:
  - a full scan: SQLite "SCAN T" without an index; PostgreSQL "Seq Scan on T";
  - below scope all, a walk of a whole index with a filter (SQLite "SCAN T
    USING INDEX"; PostgreSQL an index scan of T without an Index Cond);
  - a sort of T's rows read by a single equality (the caller's own rows, a
    therapist's sessions): an index (column, sort column) gives them in
    order. SQLite: "USE TEMP B-TREE FOR ORDER BY" beside such a SEARCH of T;
    PostgreSQL: a Sort above a Seq Scan of T, or above a bitmap scan of T
    by such an equality, with no Limit between (an index scan reads in its
    index's order: a Sort above it orders ties).
What passes: each branch's index walked in order; the sort of the union of
the branches' pages (at most a page each); and the sort of the rows of the
people the caller leads (a guardian's children: an IN list over their
relationships), which no single index orders.
"""
import re
import threading
import time
import uuid

import pytest

from conftest import at, book, hdr, insert, person, profile, relate

ROWS = 1500          # sessions the therapist gives
COLLEAGUE = 500      # sessions their colleague gives
OTHERS = 4000        # sessions other therapists give
THERAPISTS = 8       # those other therapists
CLIENTS = 40         # everyone's clients; the first is "client"
FAMILIES = 200       # other guardians, a child each

PLAN = re.compile(r'event=list_plan request_id=(\S+) resource=(\S+) scope=(\S+)'
                  r'(?: id=(\d+) parent=(\d+))? line="((?:[^"\\]|\\.)*)"')


@pytest.fixture
def plans(start_server, db):
    return start_server(db=db, env={"CAREBASE_EXPLAIN_LISTS": "1"})


def plan_of(server, r):
    """The plan rows logged for response r: [(id, parent, detail)] on
    SQLite, [line] on PostgreSQL."""
    rid = r.headers["X-Request-Id"]
    deadline = time.time() + 5
    while True:
        rows = [m for m in PLAN.finditer(server.log()) if m.group(1) == rid]
        if rows or time.time() > deadline:
            break
        time.sleep(0.1)
    assert rows, f"no list_plan logged for {r.url}"
    if rows[0].group(4) is not None:
        return [(int(m.group(4)), int(m.group(5)), m.group(6).replace('\\"', '"'))
                for m in rows]
    return [m.group(6).replace('\\"', '"') for m in rows]


def sqlite_faults(rows, table, owner, scoped):
    faults = []
    scan = re.compile(rf"^SCAN {table}\b")
    search = re.compile(rf"^SEARCH {table} USING (?:COVERING )?INDEX \S+ \((\w+)=\?")
    for _, _, d in rows:
        if scan.match(d) and "INDEX" not in d:
            faults.append(f"full scan: {d}")
        elif scan.match(d) and scoped:
            faults.append(f"a whole index walked: {d}")
    for nid, parent, d in rows:
        if "TEMP B-TREE FOR ORDER BY" not in d:
            continue
        sib = [x for x in rows if x[1] == parent and x[0] != nid]
        for _, _, s in sib:
            if scan.match(s):
                faults.append(f"sort of the whole table: {s} / {d}")
            m = search.match(s)
            # Rows of the people the caller leads (an IN list on the
            # owner column): no one index orders them.
            led = m is not None and m.group(1) == owner and any(
                "LIST SUBQUERY" in x[2] for x in sib)
            if m is not None and not led:
                faults.append(f"sort of an equality's rows: {s} / {d}")
    return faults


def pg_faults(lines, table, owner, scoped):
    faults = []
    depth = [len(x) - len(x.lstrip(" ->")) for x in lines]
    scan = re.compile(rf"(Index Only Scan|Index Scan|Index Scan Backward|Bitmap Heap Scan|"
                      rf"Seq Scan)\b.* on {table}\b")
    for i, x in enumerate(lines):
        if f"Seq Scan on {table} " in x or x.strip().endswith(f"Seq Scan on {table}"):
            faults.append(f"full scan: {x.strip()}")

    def conds(i):
        """The Index Cond / Recheck Cond lines of node i."""
        out = []
        for j in range(i + 1, len(lines)):
            if "->" in lines[j]:
                break
            if "Index Cond" in lines[j] or "Recheck Cond" in lines[j]:
                out.append(lines[j].strip())
        return out

    for i, x in enumerate(lines):
        if scan.search(x) and "Seq Scan" not in x and scoped:
            c = conds(i)
            if "Bitmap Heap Scan" in x:
                continue
            if not c:
                faults.append(f"a whole index walked: {x.strip()}")
    for i, x in enumerate(lines):
        if not re.search(r"(^|-> )(Incremental )?Sort\b", x.strip()):
            continue
        # The nodes below this Sort, down to the first Limit on each path.
        limit_depth = None
        led = False
        for j in range(i + 1, len(lines)):
            if "->" in lines[j] and depth[j] <= depth[i]:
                break
            if "->" not in lines[j]:
                continue
            if limit_depth is not None and depth[j] > limit_depth:
                continue
            limit_depth = None
            if "Limit" in lines[j]:
                limit_depth = depth[j]
                continue
            if "relationships" in lines[j]:
                led = True
            if scan.search(lines[j]):
                c = " ".join(conds(j))
                if "Seq Scan" in lines[j]:
                    faults.append(f"sort of the whole table: {lines[j].strip()}")
                # An index scan reads in the index's order (the sort is of
                # ties); a bitmap scan reads its rows unordered.
                elif "Bitmap Heap Scan" in lines[j] and not (led and owner in c):
                    faults.append(f"sort of an equality's rows: {lines[j].strip()} {c}")
    return faults


def faults_of(server, db, r, table, owner, scoped):
    rows = plan_of(server, r)
    if db.kind == "sqlite":
        return sqlite_faults(rows, table, owner, scoped), rows
    return pg_faults(rows, table, owner, scoped), rows


def analyze(db):
    """Statistics for the planner (PostgreSQL's autovacuum may not have
    run yet; SQLite plans from its indexes' shape without them)."""
    db.execute("ANALYZE;")


# --------------------------------------------------------------------------
# therapy sessions: own (client_id), a guardian's children, and a
# practitioner's sessions they give (therapist_id, the party)

@pytest.fixture
def practice_rows(plans, db):
    return build_practice(plans, db)


# The tests that only read the practice share one, built once per worker
# (its rows take seconds to write and analyse).
SHARED = pytest.mark.xdist_group("scope_plans_practice")


@pytest.fixture(scope="module")
def shared_practice(module_server):
    """(server, people) of build_practice, for tests that only read."""
    srv = module_server(env={"CAREBASE_EXPLAIN_LISTS": "1"})
    return srv, build_practice(srv, srv.db)


def build_practice(plans, db):
    """A therapist and a colleague, both practitioners of CLIENTS clients
    (the first one also has a guardian), other therapists and families;
    the sessions spread over the clients. The therapist's sessions are a
    small part of the table, as in a practice of many therapists."""
    p = {"admin": person(plans, "admin", "admin"),
         "therapist": person(plans, "therapist", "therapist"),
         "colleague": person(plans, "colleague", "therapist"),
         "client": person(plans, "client"),
         "guardian": person(plans, "guardian")}
    for k in ("therapist", "colleague"):
        p[k]["profile"] = profile(plans, p["admin"], p[k])
    relate(plans, p["admin"], p["guardian"], p["client"], "guardian_of")
    base = 1_900_000_000_000
    clients = [p["client"]["id"]] + [str(uuid.uuid4()) for _ in range(CLIENTS - 1)]
    others = [str(uuid.uuid4()) for _ in range(THERAPISTS)]
    sql = []

    def user():
        u = str(uuid.uuid4())
        sql.append(insert("users", id=u, role="member", created_at=base, updated_at=base))
        return u

    def rel(lead, follower, kind):
        sql.append(insert("relationships", id=str(uuid.uuid4()), lead_id=lead,
                          follower_id=follower, kind=kind, status="active",
                          created_at=base, updated_at=base))

    for c in clients[1:]:
        sql.append(insert("users", id=c, role="member", created_at=base, updated_at=base))
    for t in others:
        sql.append(insert("therapists", id=t, user_id=user(), bio="-", created_at=base,
                          updated_at=base))
    for c in clients:
        for lead in ("therapist", "colleague"):
            rel(p[lead]["id"], c, "practitioner_of")
    for _ in range(FAMILIES):
        rel(user(), user(), "guardian_of")
    gives = ([p["therapist"]["profile"]["id"]] * ROWS
             + [p["colleague"]["profile"]["id"]] * COLLEAGUE
             + [others[n % THERAPISTS] for n in range(OTHERS)])
    for n, t in enumerate(gives):
        when = base + n * 3_600_000
        sql.append(insert(
            "therapy_sessions", id=str(uuid.uuid4()), therapist_id=t,
            client_id=clients[n % CLIENTS], start_time=when, end_time=when + 1_800_000,
            status="completed", type="regular", format="video", meta="{}",
            created_at=when - 86_400_000, updated_at=when))
    db.execute("BEGIN;\n" + "".join(sql) + "COMMIT;\n")
    analyze(db)
    return p


SESSION_LISTS = [
    # who, query, scoped
    ("therapist", "", True),
    ("therapist", "?sort=-start_time", True),
    ("therapist", "?sort=-start_time&status=completed", True),
    ("client", "", True),
    ("client", "?sort=-start_time", True),
    ("guardian", "", True),
    ("guardian", "?sort=-start_time", True),
    ("colleague", "?sort=-start_time", True),
    ("admin", "", False),
    ("admin", "?therapist_id={therapist}&sort=-start_time", False),
]


# Plans not yet as this test wants them: each fails here, strictly, so
# the day it passes the mark must go. None now. (The default order
# (-created_at) of a branch read by an equality on PostgreSQL walked the
# whole created_at index backwards with a filter and an incremental sort,
# created_at's heap correlation being perfect here, rather than the
# (owner, created_at, id) index; a list scoped to a person now runs with
# incremental sort off, STORE_TX_NO_INCREMENTAL_SORT, and reads the
# branch's index. An admin's list, of every row, keeps it: its
# created_at index walked backwards is its plan.)
NOT_YET = {
    "sqlite": set(),
    "postgres": set(),
}


@SHARED
@pytest.mark.parametrize("who,query,scoped", SESSION_LISTS,
                         ids=[f"{w}{q}" for w, q, _ in SESSION_LISTS])
def test_session_lists_use_indexes(request, shared_practice, who, query, scoped):
    plans, p = shared_practice
    db = plans.db
    if f"{who}{query}" in NOT_YET.get(db.kind, ()):
        request.applymarker(pytest.mark.xfail(
            strict=True, reason="planner estimates: see NOT_YET"))
    query = query.format(therapist=p["therapist"]["profile"]["id"])
    r = plans.get("/v1/therapy-sessions" + query + ("&" if "?" in query else "?") + "limit=50",
                  headers=hdr(p[who]))
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]) == 50
    faults, rows = faults_of(plans, db, r, "therapy_sessions", "client_id", scoped)
    assert not faults, "\n".join(faults) + "\nplan:\n" + "\n".join(map(str, rows))


@SHARED
def test_session_pages_are_the_scope(shared_practice):
    """Paged through, a branched list gives every row the scope covers
    once, in order (a row two branches cover comes once)."""
    plans, p = shared_practice
    each = (ROWS + COLLEAGUE + OTHERS) // CLIENTS
    for who, want in (("therapist", ROWS), ("client", each), ("guardian", each),
                      ("colleague", COLLEAGUE)):
        seen, cur = [], None
        while True:
            r = plans.get("/v1/therapy-sessions", params={
                "limit": 100, "sort": "-start_time", **({"cursor": cur} if cur else {})},
                headers=hdr(p[who]))
            assert r.status_code == 200, r.text
            seen += [(s["start_time"], s["id"]) for s in r.json()["data"]]
            cur = r.json().get("next_cursor")
            if not cur:
                break
        assert len(seen) == want, who
        assert len(set(seen)) == len(seen), who
        assert seen == sorted(seen, reverse=True), who


# --------------------------------------------------------------------------
# The people the caller leads, bound as one array on PostgreSQL (one
# statement text whatever their number), and a branched list read at one
# snapshot (review of issue 20).

STATEMENT = re.compile(r"event=list_statement request_id=(\S+) resource=\S+ scope=\S+ "
                       r"text=([0-9a-f]{8})")


@pytest.mark.postgres_only
def test_led_people_are_one_array_parameter(plans, db, practice_rows):
    # An IN list of a placeholder a person made one statement text per
    # count (each connection preparing and caching each); "= ANY(?)" with
    # one text[] value is one text for two people or four (explain_lists
    # logs each list statement's text as a number, event=list_statement).
    p = practice_rows
    g = p["guardian"]
    seen = []
    for extra in (1, 2):
        for _ in range(extra):
            relate(plans, p["admin"], g, person(plans, "child"), "guardian_of")
        r = plans.get("/v1/therapy-sessions?limit=50&sort=-start_time", headers=hdr(g))
        assert r.status_code == 200, r.text
        lines = plan_of(plans, r)
        conds = [re.sub(r"'\{[^}']*\}'", "'{...}'", x.strip())
                 for x in lines if "client_id = ANY" in x]
        assert conds and all("client_id = ANY ('{...}'::text[])" in x for x in conds), \
            "\n".join(lines)
        rid = r.headers["X-Request-Id"]
        texts = [m.group(2) for m in STATEMENT.finditer(plans.log()) if m.group(1) == rid]
        assert len(texts) == 1, texts
        seen.append(texts[0])
    assert seen[0] == seen[1]


def test_a_branched_list_reads_one_snapshot(start_server, db):
    # A guardian's list reads who they lead (list_pick), then the page.
    # Meanwhile a writer moves, in one transaction each time, the guardian's
    # relationship from one child to the other together with the child's
    # session: every state of the database shows the guardian exactly that
    # session. Read at two snapshots (PostgreSQL's READ COMMITTED, before),
    # the pick could see the old child and the page the moved session: an
    # empty page no state held.
    server = start_server(db=db)
    admin = person(server, "admin", "admin")
    therapist = person(server, "therapist", "therapist")
    therapist["profile"] = profile(server, admin, therapist)
    g = person(server, "guardian")
    kids = [person(server, "kid"), person(server, "kid")]
    rel = relate(server, admin, g, kids[0], "guardian_of")
    relate(server, admin, therapist, kids[0], "practitioner_of")
    r = book(server, therapist, therapist, kids[0], at(0), at(1))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    stop = threading.Event()
    moves = [0]

    def writer():
        k = 0
        while not stop.is_set():
            k = 1 - k
            db.execute(f"BEGIN; UPDATE relationships SET follower_id = '{kids[k]['id']}' "
                       f"WHERE id = '{rel['id']}'; UPDATE therapy_sessions SET client_id = "
                       f"'{kids[k]['id']}' WHERE id = '{sid}'; COMMIT;")
            moves[0] += 1

    bad, lock, reads, errors = [], threading.Lock(), [0], []
    deadline = time.monotonic() + 90

    def reader():
        # 150 pages each at least, and on until the writer has moved the
        # rows enough times to matter (a loaded machine slows it).
        import requests
        s = requests.Session()
        n = 0
        try:
            while time.monotonic() < deadline and (n < 150 or moves[0] <= 50):
                r = s.get(server.url("/v1/therapy-sessions"), headers=hdr(g), timeout=30)
                assert r.status_code == 200, r.text
                n += 1
                ids = [x["id"] for x in r.json()["data"]]
                if ids != [sid]:
                    with lock:
                        bad.append(ids)
        except Exception as e:  # re-raised below: a thread's assert only warns
            errors.append(e)
        with lock:
            reads[0] += n

    w = threading.Thread(target=writer)
    w.start()
    readers = [threading.Thread(target=reader) for _ in range(3)]
    try:
        for t in readers:
            t.start()
        for t in readers:
            t.join(120)
    finally:
        stop.set()
        w.join(30)
    print(f"{moves[0]} moves, {len(bad)} inconsistent pages of {reads[0]}")
    assert not errors, errors
    assert reads[0] >= 450 and moves[0] > 50, (reads[0], moves[0])
    assert not bad, f"{len(bad)} of {reads[0]} pages held no state of the database: {bad[:3]}"
