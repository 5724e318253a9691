import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CLI, ROOT } from '../helpers/cli.js';

// The deployment recipe must run what the code offers: the same CLI verbs and flags, only
// environment variables the configuration knows, probes on the real health routes.
const read = (path: string) => readFileSync(ROOT + path, 'utf8');
const ENV_NAME = /\b(?:GATEHOUSE_[A-Z_]+|DATABASE_URL|REDIS_URL)\b/g;
const KNOWN_ENV = new Set(read('src/config.ts').match(ENV_NAME));
const CONTRACT_ENV = ['DATABASE_URL', 'REDIS_URL', 'GATEHOUSE_MASTER_KEYS', 'GATEHOUSE_PUBLIC_URL'];

/** Runs `gatehouse <args> --help`: the verb and each flag must be ones the CLI accepts. */
function expectCliAccepts(args: string[]) {
  const verb = args.filter((a) => !a.startsWith('-'));
  const res = spawnSync(process.execPath, [CLI, ...verb, '--help'], { encoding: 'utf8' });
  expect(res.status, `gatehouse ${verb.join(' ')} --help: ${res.stderr}`).toBe(0);
  // An unknown verb with --help prints the top-level help and exits 0 too: check whose help it is.
  expect(res.stdout).toMatch(new RegExp(`^Usage: gatehouse ${verb.join(' ')} `));
  for (const flag of args.filter((a) => a.startsWith('-'))) expect(res.stdout, `gatehouse ${verb.join(' ')} has ${flag}`).toContain(flag);
}

describe('deploy/Dockerfile', () => {
  const file = read('deploy/Dockerfile');
  const lines = file.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const final = lines.slice(lines.map((l) => l.startsWith('FROM ')).lastIndexOf(true));

  test('multi-stage, on the Node major the project runs on, ending as a non-root user', () => {
    const froms = lines.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms.every((l) => /node:20\b/.test(l))).toBe(true);
    expect(JSON.parse(read('package.json')).engines.node).toMatch(/^>=20\./);
    const user = final.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/USER\s+(root|0)\b/);
    // Only the build stage holds dev dependencies and sources.
    expect(file).toContain('npm prune --omit=dev');
  });

  test('a health check on /readyz, and an entry point that runs the CLI', () => {
    expect(final.join('\n')).toMatch(/HEALTHCHECK[\s\S]*\/readyz/);
    const entry = JSON.parse(final.find((l) => l.startsWith('ENTRYPOINT '))!.slice('ENTRYPOINT '.length));
    const cmd = JSON.parse(final.find((l) => l.startsWith('CMD '))!.slice('CMD '.length));
    expect(entry).toEqual(['node', 'dist/cli.js']);
    expect(entry[1]).toBe(CLI.slice(ROOT.length));
    expectCliAccepts(cmd);
  });

  test('every ENV it sets is a variable the configuration reads', () => {
    for (const name of file.match(ENV_NAME) ?? []) expect(KNOWN_ENV, name).toContain(name);
    // The one health check serves `worker` containers too: their ops listener is on the same port.
    expect(file).toMatch(/GATEHOUSE_WORKER_PORT=8080/);
    expect(file).toMatch(/GATEHOUSE_PORT=8080/);
  });
});

describe('deploy/compose.yaml', () => {
  const compose = parse(read('deploy/compose.yaml'), { merge: true });
  const envExample = Object.fromEntries(read('deploy/.env.example').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=', 2)));
  const gatehouse = Object.entries<any>(compose.services).filter(([, s]) => s.image === 'gatehouse:latest');
  const byCommand = (cmd: string) => gatehouse.filter(([, s]) => s.command.join(' ') === cmd).map(([name]) => name);

  test('two API processes, two workers, one migration, PostgreSQL and Redis', () => {
    expect(byCommand('serve --no-worker')).toHaveLength(2);
    expect(byCommand('worker')).toHaveLength(2);
    expect(byCommand('migrate')).toHaveLength(1);
    expect(compose.services.postgres.image).toMatch(/^postgres:/);
    expect(compose.services.redis.image).toMatch(/^redis:/);
    for (const [, s] of gatehouse) expectCliAccepts(s.command);
  });

  test('each Gatehouse process has the database, Redis and the master key; every variable is known', () => {
    for (const [name, s] of gatehouse) {
      const env = { ...envExample, ...s.environment };
      for (const required of CONTRACT_ENV) expect(env[required], `${name} ${required}`).toBeTruthy();
      for (const key of Object.keys(env)) expect(KNOWN_ENV, `${name} ${key}`).toContain(key);
      expect(s.env_file).toBe('.env');
    }
  });

  test('API and worker processes serve /metrics apart (GATEHOUSE_METRICS_ADDR) on a port no service publishes', () => {
    for (const name of [...byCommand('serve --no-worker'), ...byCommand('worker')]) {
      const s = compose.services[name];
      const addr = { ...envExample, ...s.environment }.GATEHOUSE_METRICS_ADDR as string;
      expect(addr, name).toMatch(/^0\.0\.0\.0:\d+$/);
      const port = addr.split(':')[1];
      for (const published of s.ports ?? []) expect(String(published).split(':').at(-1), name).not.toBe(port);
    }
  });

  test('the API and workers start after the migration has finished', () => {
    for (const name of [...byCommand('serve --no-worker'), ...byCommand('worker')]) {
      expect(compose.services[name].depends_on.migrate.condition).toBe('service_completed_successfully');
    }
    expect(compose.services[byCommand('migrate')[0]].depends_on.postgres.condition).toBe('service_healthy');
  });
});

describe('deploy/kubernetes', () => {
  const docs = parseAllDocuments(read('deploy/kubernetes/gatehouse.yaml')).map((d) => d.toJS());
  const of = (kind: string) => docs.filter((d) => d.kind === kind);
  const config = of('ConfigMap')[0].data;
  const deployments = Object.fromEntries(of('Deployment').map((d) => [d.metadata.name, d]));
  const container = (d: any) => d.spec.template.spec.containers[0];

  test('every manifest parses and names only known variables and real CLI verbs', () => {
    expect(docs.every((d) => d.apiVersion && d.kind && d.metadata?.name)).toBe(true);
    for (const key of Object.keys(config)) expect(KNOWN_ENV, key).toContain(key);
    for (const d of of('Deployment')) for (const e of container(d).env ?? []) expect(KNOWN_ENV, e.name).toContain(e.name);
    for (const d of [...of('Deployment'), ...of('Job')]) expectCliAccepts(container(d).args);
  });

  test('API and worker probes: readiness on /readyz, liveness on /healthz; grace period above the drain timeout', () => {
    expect(container(deployments['gatehouse-api']).args).toEqual(['serve', '--no-worker']);
    const worker = container(deployments['gatehouse-worker']);
    expect(worker.args).toEqual(['worker']);
    // A worker has no API: its probes need the ops listener.
    expect(worker.env.find((e: any) => e.name === 'GATEHOUSE_WORKER_PORT').value).toBe(String(worker.ports[0].containerPort));
    for (const d of Object.values<any>(deployments)) {
      expect(container(d).readinessProbe.httpGet.path).toBe('/readyz');
      expect(container(d).livenessProbe.httpGet.path).toBe('/healthz');
      expect(d.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(Number(config.GATEHOUSE_SHUTDOWN_TIMEOUT_MS));
      expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    }
  });

  test('every pod serves /metrics apart (GATEHOUSE_METRICS_ADDR) on a port the Service does not expose', () => {
    const port = Number(/^0\.0\.0\.0:(\d+)$/.exec(config.GATEHOUSE_METRICS_ADDR)?.[1]);
    for (const d of Object.values<any>(deployments)) {
      expect(container(d).ports.find((p: any) => p.name === 'metrics')?.containerPort, d.metadata.name).toBe(port);
      expect(d.spec.template.metadata.annotations['prometheus.io/port'], d.metadata.name).toBe(String(port));
    }
    for (const p of of('Service')[0].spec.ports) expect([port, 'metrics']).not.toContain(p.targetPort);
  });

  test('migrations run as a Job; each Deployment has a disruption budget that selects its pods', () => {
    expect(container(of('Job')[0]).args).toEqual(['migrate']);
    const budgets = of('PodDisruptionBudget');
    for (const d of Object.values<any>(deployments)) {
      const labels = d.spec.template.metadata.labels;
      const budget = budgets.find((b) => Object.entries<string>(b.spec.selector.matchLabels).every(([k, v]) => labels[k] === v));
      expect(budget, d.metadata.name).toBeDefined();
      expect(budget.spec.minAvailable).toBeGreaterThanOrEqual(1);
    }
    expect(of('Service')[0].spec.selector).toEqual(deployments['gatehouse-api'].spec.template.metadata.labels);
  });

  test('the notes name the commands and variables the manifests use', () => {
    const notes = read('deploy/kubernetes/README.md');
    for (const word of ['/readyz', '/healthz', 'SIGTERM', 'gatehouse migrate', 'PodDisruptionBudget', ...CONTRACT_ENV.filter((e) => e !== 'GATEHOUSE_PUBLIC_URL')]) expect(notes).toContain(word);
  });
});
