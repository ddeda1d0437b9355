// Fastify 5 + node-postgres (pg) over carebase's own PostgreSQL tables, doing
// what carebase does for the two requests bench/compare_pg measures, the way
// a hand-written Fastify service would:
//   GET /v1/me                      hash the bearer token (SHA-256), read the
//                                   session joined to its user, check expiry,
//                                   answer the user as JSON;
//   GET /v1/therapy-sessions        the same session check, then the caller's
//                                   therapist profile and their newest
//                                   `limit` sessions with the clients they
//                                   lead as practitioner (the scope carebase
//                                   applies), answered as JSON.
// carebase does more per request: it opens sealed personal fields, checks
// role permissions, audits the read of health data and pages by cursor.
const fastify = require('fastify')({ logger: false });
const crypto = require('crypto');
const { Pool } = require('pg');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 16 });

async function caller(req) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  if (!m) return null;
  const h = crypto.createHash('sha256').update(m[1]).digest('hex');
  const r = await pool.query(
    `SELECT s.user_id, s.expires_at, s.ended_at, u.id, u.role, u.created_at, u.updated_at
       FROM auth_sessions s JOIN users u ON u.id = s.user_id
      WHERE s.token_hash = $1 AND u.deleted_at IS NULL`, [h]);
  const s = r.rows[0];
  if (!s || s.ended_at !== null || Number(s.expires_at) < Date.now()) return null;
  return s;
}

fastify.get('/healthz', async () => ({ status: 'ok' }));
fastify.get('/v1/me', async (req, reply) => {
  const s = await caller(req);
  if (!s) return reply.code(401).send({ code: 'UNAUTHORIZED' });
  return { id: s.id, role: s.role, created_at: Number(s.created_at), updated_at: Number(s.updated_at) };
});
fastify.get('/v1/therapy-sessions', async (req, reply) => {
  const s = await caller(req);
  if (!s) return reply.code(401).send({ code: 'UNAUTHORIZED' });
  const limit = Math.min(Math.max(parseInt(req.query.limit || '50', 10) || 50, 1), 200);
  const t = await pool.query('SELECT id FROM therapists WHERE user_id = $1', [s.user_id]);
  if (t.rows.length === 0) return { data: [] };
  const r = await pool.query(
    `SELECT id, therapist_id, client_id, start_time, end_time, status, type, format,
            meta, created_at, updated_at
       FROM therapy_sessions
      WHERE therapist_id = $1 AND client_id IN (SELECT follower_id FROM relationships
            WHERE lead_id = $2 AND kind = 'practitioner_of' AND status = 'active')
      ORDER BY start_time DESC, id DESC LIMIT $3`, [t.rows[0].id, s.user_id, limit]);
  return { data: r.rows };
});
fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
