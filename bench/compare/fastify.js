// Fastify 5, same two routes as express.js.
const fastify = require('fastify')({ logger: false });
const initSqlJs = require('sql.js');
const fs = require('fs');

initSqlJs().then((SQL) => {
  const db = new SQL.Database(fs.readFileSync(process.env.DB));
  const stmt = db.prepare('SELECT count(*) FROM schema_migrations');
  fastify.get('/healthz', async () => ({ status: 'ok' }));
  fastify.get('/readyz', async () => {
    stmt.step();
    stmt.get();
    stmt.reset();
    return { status: 'ready' };
  });
  fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
});
