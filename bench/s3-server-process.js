/**
 * One s3rver in a process of its own, so that a test process busy with its own work (a load test's
 * clients) does not slow the store down for the product's processes.
 *
 *   node s3-server-process.js <data dir> <bucket>
 *
 * Prints {"port": <port>} on one line once it listens on 127.0.0.1. Exits on SIGTERM or SIGINT,
 * or when its stdin closes (the test process went away).
 */
const S3rver = require('s3rver');

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });

server
  .run()
  .then((address) => {
    const stop = () => server.close().finally(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.stdin.on('end', stop);
    process.stdin.resume();
    process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
  })
  .catch((error) => {
    console.error((error && error.stack) || String(error));
    process.exit(1);
  });
