# The bench rows of bench/compare_pg and bench/list_cost_pg, as SQL that
# PostgreSQL and SQLite both take: a therapist (THERAPIST_USER, a carebase
# account; a profile is made here), CLIENTS clients they lead as
# practitioner, SESSIONS sessions with them over the last years.
#   usage: therapy_rows.py THERAPIST_USER SESSIONS CLIENTS > rows.sql
import sys, uuid
therapist_user, n, clients = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
base = 1_700_000_000_000
out = ["BEGIN;"]
tid = str(uuid.uuid4())
out.append(f"INSERT INTO therapists (id, user_id, bio, created_at, updated_at) "
           f"VALUES ('{tid}', '{therapist_user}', 'bench', {base}, {base});")
cs = [str(uuid.uuid4()) for _ in range(clients)]
for c in cs:
    out.append(f"INSERT INTO users (id, role, created_at, updated_at) VALUES ('{c}', 'member', {base}, {base});")
    out.append(f"INSERT INTO relationships (id, lead_id, follower_id, kind, status, created_at, updated_at) "
               f"VALUES ('{uuid.uuid4()}', '{therapist_user}', '{c}', 'practitioner_of', 'active', {base}, {base});")
for i in range(n):
    t = base + i * 3_600_000
    out.append(f"INSERT INTO therapy_sessions (id, therapist_id, client_id, start_time, end_time, status, "
               f"type, format, meta, created_at, updated_at) VALUES ('{uuid.uuid4()}', '{tid}', "
               f"'{cs[i % clients]}', {t}, {t + 1_800_000}, 'completed', 'regular', 'video', '{{}}', "
               f"{t - 86_400_000}, {t});")
out.append("COMMIT;")
print("\n".join(out))
