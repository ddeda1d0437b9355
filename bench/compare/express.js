// Express 5 doing what carebase's /healthz and /readyz do: a JSON answer,
// and one read of schema_migrations from the same SQLite file (via sql.js,
// SQLite compiled to WebAssembly, since Node 20 has no built-in SQLite).
const express = require('express');
const initSqlJs = require('sql.js');
const fs = require('fs');

initSqlJs().then((SQL) => {
  const db = new SQL.Database(fs.readFileSync(process.env.DB));
  const stmt = db.prepare('SELECT count(*) FROM schema_migrations');
  const app = express();
  app.get('/healthz', (req, res) => res.json({ status: 'ok' }));
  app.get('/readyz', (req, res) => {
    stmt.step();
    stmt.get();
    stmt.reset();
    res.json({ status: 'ready' });
  });
  app.listen(Number(process.env.PORT), '127.0.0.1');
});
