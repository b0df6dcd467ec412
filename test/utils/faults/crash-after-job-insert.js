/**
 * Preloaded into a built API process (NODE_OPTIONS="--require <this file>") by the fault suite:
 * the process kills itself with SIGKILL right after a creation's INSERT of jobs has committed,
 * before anything is queued, as a crash at the worst moment would. It patches the built
 * JobRepository, so production code carries no test hook.
 */
require('reflect-metadata');
const { dirname, join } = require('node:path');

// process.argv[1] is the built entry point (dist/src/main.js): the repository is beside it.
const { JobRepository } = require(join(dirname(process.argv[1]), 'job-runs', 'job.repository.js'));
const insertMany = JobRepository.prototype.insertMany;
JobRepository.prototype.insertMany = async function (...args) {
  const outcomes = await insertMany.apply(this, args);
  if (outcomes.some((outcome) => !(outcome instanceof Error))) process.kill(process.pid, 'SIGKILL');
  return outcomes;
};
