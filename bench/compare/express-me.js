// Express 5 doing what carebase's GET /v1/me does, the way an Express app
// usually would: hash the bearer token (SHA-256), look the session up, check
// its expiry, read the user row, answer JSON. SQLite through sql.js (in
// memory). carebase does more per request: it also opens the user's sealed
// personal fields (XChaCha20-Poly1305) and checks role permissions.
const express = require('express');
const crypto = require('crypto');
const initSqlJs = require('sql.js');

initSqlJs().then((SQL) => {
  const db = new SQL.Database();
  db.run(`CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, first_name TEXT,
          last_name TEXT, role TEXT, created_at INTEGER);
          CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, user_id TEXT, expires_at INTEGER);`);
  const token = 'bench-token-0123456789abcdef0123456789abcdef';
  const hash = crypto.createHash('sha256').update(token).digest('hex');
  db.run('INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)',
         ['u1', 'ada@example.org', 'Ada', 'Lovelace', 'member', Date.now()]);
  db.run('INSERT INTO sessions VALUES (?, ?, ?)', [hash, 'u1', Date.now() + 3600e3]);
  const sess = db.prepare('SELECT user_id, expires_at FROM sessions WHERE token_hash = ?');
  const user = db.prepare('SELECT id, email, first_name, last_name, role, created_at FROM users WHERE id = ?');
  const app = express();
  app.get('/healthz', (req, res) => res.json({ status: 'ok' }));
  app.get('/v1/me', (req, res) => {
    const m = /^Bearer (.+)$/.exec(req.get('authorization') || '');
    if (!m) return res.status(401).json({ code: 'UNAUTHORIZED' });
    const h = crypto.createHash('sha256').update(m[1]).digest('hex');
    const s = sess.getAsObject([h]);
    sess.reset();
    if (!s.user_id || s.expires_at < Date.now()) return res.status(401).json({ code: 'UNAUTHORIZED' });
    const u = user.getAsObject([s.user_id]);
    user.reset();
    res.json(u);
  });
  app.listen(Number(process.env.PORT), '127.0.0.1');
  console.log('token ' + token);
});
