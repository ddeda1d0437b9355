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
import time
import uuid

import pytest

from conftest import hdr, insert, person, profile, relate

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


# Plans not yet as this test wants them (issue 20 item 1, open): each
# fails here, strictly, so the day it passes the mark must go.
#  - PostgreSQL, the default order (-created_at) of a branch read by an
#    equality (the client's own sessions, a guardian's child's, the
#    therapist's own): the planner walks the whole created_at index
#    backwards with a filter rather than the (owner, created_at, id)
#    index, because created_at's heap correlation is perfect here (rows
#    inserted in time order) and it takes the branch's rows as spread
#    evenly over time; these are the oldest, so the walk reads most of
#    the table. The start_time orders (what a practice lists by) use the
#    branch's index. Since the list resolves the caller's led people and
#    therapist profile first (query.c list_pick), the guardians' branch
#    is gone for a therapist and the party's rows are read by
#    (therapist_id, start_time, id).
NOT_YET = {
    "sqlite": set(),
    "postgres": {"therapist", "client", "guardian"},
}


@pytest.mark.parametrize("who,query,scoped", SESSION_LISTS,
                         ids=[f"{w}{q}" for w, q, _ in SESSION_LISTS])
def test_session_lists_use_indexes(request, plans, db, practice_rows, who, query, scoped):
    if f"{who}{query}" in NOT_YET.get(db.kind, ()):
        request.applymarker(pytest.mark.xfail(
            strict=True, reason="planner estimates: see NOT_YET"))
    p = practice_rows
    query = query.format(therapist=p["therapist"]["profile"]["id"])
    r = plans.get("/v1/therapy-sessions" + query + ("&" if "?" in query else "?") + "limit=50",
                  headers=hdr(p[who]))
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]) == 50
    faults, rows = faults_of(plans, db, r, "therapy_sessions", "client_id", scoped)
    assert not faults, "\n".join(faults) + "\nplan:\n" + "\n".join(map(str, rows))


def test_session_pages_are_the_scope(plans, db, practice_rows):
    """Paged through, a branched list gives every row the scope covers
    once, in order (a row two branches cover comes once)."""
    p = practice_rows
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
