// Checks the deployment files that cannot run here (no Docker engine, no cluster): builds the
// Kubernetes manifests with kustomize and validates every object against the Kubernetes and KEDA
// schemas (kubernetes-models), and validates docker-compose.yml with docker-compose's own
// `config`. Run by .ci/run; `npm run check:deploy`.
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');
const { parseAllDocuments } = require('yaml');
const kubernetes = require('kubernetes-models');
const { kedaSh } = require('@kubernetes-models/keda');

const root = join(__dirname, '..');

// apiVersion "apps/v1" → kubernetes.apps.v1; "v1" → the core group; "keda.sh/v1alpha1" → KEDA's.
function modelOf(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const groups = { '': kubernetes, 'keda.sh': kedaSh };
  const groupKey = group.replace(/\.(\w)/g, (_, letter) => letter.toUpperCase()).replace(/\.k8s\.io$/, 'K8sIo');
  const models = group === '' ? kubernetes[version] : (groups[group] ?? kubernetes[groupKey] ?? kubernetes[groupKey + 'K8sIo'])?.[version];
  return models?.[kind];
}

function run(command, args, env = {}) {
  try {
    return execFileSync(command, args, { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    if (error.code === 'ENOENT') throw new Error(`${command} is not installed (see .ci/run, which installs it)`, { cause: error });
    throw new Error(`${command} ${args.join(' ')} failed:\n${error.stderr || error.message}`, { cause: error });
  }
}

function checkKubernetes() {
  const built = run('kubectl', ['kustomize', 'deploy/kubernetes']);
  const documents = parseAllDocuments(built).map((document) => document.toJSON());
  const problems = [];
  for (const object of documents) {
    const name = `${object.kind}/${object.metadata?.name}`;
    const Model = modelOf(object.apiVersion, object.kind);
    if (!Model) {
      problems.push(`${name}: no schema for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push(`${name}: ${error.message}`);
    }
  }
  if (problems.length > 0) throw new Error(`deploy/kubernetes is invalid:\n  ${problems.join('\n  ')}`);
  const kinds = documents.map((object) => object.kind).sort();
  console.log(`deploy/kubernetes: ${documents.length} objects valid (${kinds.join(', ')})`);
}

function checkCompose() {
  // The file requires ADMIN_TOKEN from the shell or .env; any value of the right length checks it.
  run('docker-compose', ['-f', 'docker-compose.yml', 'config', '--quiet'], { ADMIN_TOKEN: 'check-deploy-admin-token' });
  const services = run('docker-compose', ['-f', 'docker-compose.yml', 'config', '--services'], { ADMIN_TOKEN: 'check-deploy-admin-token' });
  console.log(`docker-compose.yml: valid (services ${services.trim().split('\n').join(', ')})`);
}

try {
  checkKubernetes();
  checkCompose();
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
