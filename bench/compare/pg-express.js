// Express 5 + Sequelize 6 (the seeds' own stack) over carebase's own
// PostgreSQL tables: the same two requests as pg-fastify.js, written the
// way a Sequelize app usually is (models, findOne/findAll, a literal for
// the scope's subquery).
const express = require('express');
const crypto = require('crypto');
const { Sequelize, DataTypes, Op } = require('sequelize');

const sequelize = new Sequelize(process.env.DATABASE_URL, {
  logging: false, pool: { max: 16 }, define: { timestamps: false },
});
const User = sequelize.define('User', {
  id: { type: DataTypes.TEXT, primaryKey: true }, role: DataTypes.TEXT,
  created_at: DataTypes.BIGINT, updated_at: DataTypes.BIGINT, deleted_at: DataTypes.BIGINT,
}, { tableName: 'users' });
const AuthSession = sequelize.define('AuthSession', {
  id: { type: DataTypes.TEXT, primaryKey: true }, user_id: DataTypes.TEXT,
  token_hash: DataTypes.TEXT, expires_at: DataTypes.BIGINT, ended_at: DataTypes.BIGINT,
}, { tableName: 'auth_sessions' });
AuthSession.belongsTo(User, { foreignKey: 'user_id' });
const Therapist = sequelize.define('Therapist', {
  id: { type: DataTypes.TEXT, primaryKey: true }, user_id: DataTypes.TEXT,
}, { tableName: 'therapists' });
const TherapySession = sequelize.define('TherapySession', {
  id: { type: DataTypes.TEXT, primaryKey: true }, therapist_id: DataTypes.TEXT,
  client_id: DataTypes.TEXT, start_time: DataTypes.BIGINT, end_time: DataTypes.BIGINT,
  status: DataTypes.TEXT, type: DataTypes.TEXT, format: DataTypes.TEXT, meta: DataTypes.TEXT,
  created_at: DataTypes.BIGINT, updated_at: DataTypes.BIGINT,
}, { tableName: 'therapy_sessions' });

async function caller(req) {
  const m = /^Bearer (.+)$/.exec(req.get('authorization') || '');
  if (!m) return null;
  const h = crypto.createHash('sha256').update(m[1]).digest('hex');
  const s = await AuthSession.findOne({
    where: { token_hash: h }, include: [{ model: User, where: { deleted_at: null } }],
  });
  if (!s || s.ended_at !== null || Number(s.expires_at) < Date.now()) return null;
  return s;
}

const app = express();
app.get('/healthz', (req, res) => res.json({ status: 'ok' }));
app.get('/v1/me', async (req, res) => {
  const s = await caller(req);
  if (!s) return res.status(401).json({ code: 'UNAUTHORIZED' });
  const u = s.User;
  res.json({ id: u.id, role: u.role, created_at: Number(u.created_at), updated_at: Number(u.updated_at) });
});
app.get('/v1/therapy-sessions', async (req, res) => {
  const s = await caller(req);
  if (!s) return res.status(401).json({ code: 'UNAUTHORIZED' });
  const limit = Math.min(Math.max(parseInt(req.query.limit || '50', 10) || 50, 1), 200);
  const t = await Therapist.findOne({ where: { user_id: s.user_id } });
  if (!t) return res.json({ data: [] });
  const rows = await TherapySession.findAll({
    where: {
      therapist_id: t.id,
      client_id: { [Op.in]: sequelize.literal(`(SELECT follower_id FROM relationships
        WHERE lead_id = ${sequelize.escape(s.user_id)} AND kind = 'practitioner_of'
        AND status = 'active')`) },
    },
    order: [['start_time', 'DESC'], ['id', 'DESC']], limit,
  });
  res.json({ data: rows });
});
app.listen(Number(process.env.PORT), '127.0.0.1');
