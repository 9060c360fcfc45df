import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { baseImage, copySources, dockerignoreMatcher, effective, effectiveEnv, parseDockerfile } from './support/dockerfile';
import { asArray, asObject, asString, isObject, readText, readYaml, repoPath } from './support/repo';
import { configVariables, GRPC_PORT, HTTP_PORT, SERVICES } from './support/services';

/**
 * docker-compose.yml cannot run here (no Docker engine), so its structure is checked: every
 * service buildable or pulled, dependencies and ports coherent, Redis as BullMQ needs it, the GPU
 * reservation, and the services wired to each other through the environment.
 */
const compose = asObject(readYaml('docker-compose.yml'), 'docker-compose.yml');
const services = asObject(compose.services, 'services');
const service = (name: string) => asObject(services[name], `service ${name}`);

/** A service's environment as a map (compose allows a map or a list of `K=V`). */
function environment(name: string): Record<string, string> {
  const env = service(name).environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => {
      const [k, ...v] = asString(e, `${name} environment`).split('=');
      return [k, v.join('=')];
    }));
  }
  return Object.fromEntries(Object.entries(asObject(env, `${name} environment`)).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function dependsOn(name: string): Record<string, string | undefined> {
  const deps = service(name).depends_on;
  if (deps === undefined) return {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [asString(d, 'depends_on'), undefined]));
  return Object.fromEntries(Object.entries(asObject(deps, 'depends_on')).map(([k, v]) => [k, isObject(v) && typeof v.condition === 'string' ? v.condition : undefined]));
}

/** `[host_ip:]host:container[/proto]` → ports; long syntax `{target, published}` too. */
function ports(name: string): { host?: number; container: number; hostIp?: string }[] {
  return asArray(service(name).ports ?? [], `${name} ports`).map((p) => {
    if (isObject(p)) return { container: Number(p.target), host: p.published === undefined ? undefined : Number(p.published), hostIp: typeof p.host_ip === 'string' ? p.host_ip : undefined };
    const spec = String(p).replace(/\/(tcp|udp)$/, '');
    const resolved = spec.replace(/\$\{[A-Z_]+:-(\d+)\}/g, '$1');
    const parts = resolved.split(':');
    const container = Number(parts[parts.length - 1]);
    const host = parts.length >= 2 ? Number(parts[parts.length - 2]) : undefined;
    return { container, host, hostIp: parts.length === 3 ? parts[0] : undefined };
  });
}

/** host and port of `scheme://host:port/...` or `host:port`. */
function hostPort(value: string): { host: string; port: number } {
  const m = /^(?:[a-z]+:\/\/)?(?:[^@/]*@)?([^:/]+):(\d+)/.exec(value);
  assert.ok(m, `not host:port: ${value}`);
  return { host: m[1], port: Number(m[2]) };
}

const dockerfileText = readText('Dockerfile');
const dockerfile = parseDockerfile(dockerfileText);

describe('docker-compose.yml', () => {
  it('parses, and every service has an image or a build', () => {
    for (const [name, s] of Object.entries(services)) {
      const svc = asObject(s, name);
      assert.ok(typeof svc.image === 'string' || svc.build !== undefined, `${name}: no image and no build`);
    }
  });

  it('runs Redis, PostgreSQL, Ollama, the four services, Prometheus and Grafana', () => {
    for (const name of ['redis', 'postgres', 'ollama', ...SERVICES, 'prometheus', 'grafana']) assert.ok(services[name], `no service ${name}`);
  });

  it('depends_on names existing services, and waits for health only where there is a health check', () => {
    for (const name of Object.keys(services)) {
      for (const [dep, condition] of Object.entries(dependsOn(name))) {
        assert.ok(services[dep], `${name} depends on unknown service ${dep}`);
        assert.notEqual(dep, name);
        if (condition === 'service_healthy') {
          const target = service(dep);
          const hasHealthcheck = target.healthcheck !== undefined || (isObject(target.build) && effective(dockerfile, String(target.build.target), 'HEALTHCHECK') !== undefined);
          assert.ok(hasHealthcheck, `${name} waits for ${dep} to be healthy, but ${dep} has no health check`);
        }
      }
    }
  });

  it('has no dependency cycle', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, path: string[]) => {
      if (state.get(name) === 'done') return;
      assert.notEqual(state.get(name), 'visiting', `dependency cycle: ${[...path, name].join(' -> ')}`);
      state.set(name, 'visiting');
      for (const dep of Object.keys(dependsOn(name))) visit(dep, [...path, name]);
      state.set(name, 'done');
    };
    for (const name of Object.keys(services)) visit(name, []);
  });

  it('publishes the API, Grafana and Prometheus, each host port once, container ports matching the services', () => {
    const hostPorts = new Set<number>();
    for (const name of Object.keys(services)) {
      for (const p of ports(name)) {
        assert.ok(Number.isInteger(p.container) && p.container > 0, `${name}: bad port`);
        if (p.host !== undefined) {
          assert.ok(!hostPorts.has(p.host), `host port ${p.host} published twice`);
          hostPorts.add(p.host);
        }
      }
    }
    assert.ok(ports('edge').some((p) => p.container === HTTP_PORT.edge && p.host !== undefined), 'the edge API is published');
    assert.ok(ports('grafana').some((p) => p.container === 3000), 'Grafana is published');
    assert.ok(ports('prometheus').some((p) => p.container === 9090), 'Prometheus is published');
    for (const name of ['redis', 'postgres', 'ollama']) assert.deepEqual(ports(name), [], `${name} stays on the compose network`);
    for (const p of ports('auth')) assert.equal(p.hostIp, '127.0.0.1', "auth's admin API is published on localhost only");
  });

  it('runs Redis with noeviction and AOF persistence (BullMQ)', () => {
    const command = service('redis').command;
    const args = Array.isArray(command) ? command.map(String) : asString(command, 'redis command').split(/\s+/);
    const value = (flag: string) => args[args.indexOf(flag) + 1];
    assert.ok(args.includes('--maxmemory-policy'), 'redis needs --maxmemory-policy');
    assert.equal(value('--maxmemory-policy'), 'noeviction');
    assert.equal(value('--appendonly'), 'yes');
    assert.ok(asArray(service('redis').volumes, 'redis volumes').some((v) => String(v).endsWith(':/data')), 'redis data on a volume');
  });

  it('reserves an NVIDIA GPU for Ollama', () => {
    const deploy = asObject(service('ollama').deploy, 'ollama deploy');
    const devices = asArray(asObject(asObject(deploy.resources, 'resources').reservations, 'reservations').devices, 'devices').map((d) => asObject(d, 'device'));
    const gpu = devices.find((d) => d.driver === 'nvidia');
    assert.ok(gpu, 'a device reservation with driver nvidia');
    assert.ok(asArray(gpu.capabilities, 'capabilities').includes('gpu'));
    assert.ok(gpu.count === 'all' || Number(gpu.count) >= 1 || Array.isArray(gpu.device_ids), 'a GPU count or device ids');
  });

  it('wires the services to each other through the environment', () => {
    for (const name of SERVICES) {
      const env = environment(name);
      assert.equal(env.HOST, '0.0.0.0', `${name} must listen on all interfaces (its default is 127.0.0.1)`);
      assert.equal(env.PORT, String(HTTP_PORT[name]), `${name} PORT`);
      assert.equal(hostPort(env.REDIS_URL).host, 'redis', `${name} REDIS_URL`);
      assert.ok(env.REDIS_URL.startsWith('redis://'));
    }
    const auth = environment('auth');
    assert.match(auth.DATABASE_URL, /^postgres(ql)?:\/\//);
    assert.deepEqual(hostPort(auth.DATABASE_URL), { host: 'postgres', port: 5432 });
    assert.deepEqual(hostPort(auth.AUTH_GRPC_URL), { host: '0.0.0.0', port: GRPC_PORT.auth }, 'auth binds its gRPC port on all interfaces');
    assert.deepEqual(hostPort(environment('scheduler').SCHEDULER_GRPC_URL), { host: '0.0.0.0', port: GRPC_PORT.scheduler });
    for (const client of ['edge', 'worker']) assert.deepEqual(hostPort(environment(client).AUTH_GRPC_URL), { host: 'auth', port: GRPC_PORT.auth }, `${client} AUTH_GRPC_URL`);
    const worker = environment('worker');
    assert.deepEqual(hostPort(worker.SCHEDULER_GRPC_URL), { host: 'scheduler', port: GRPC_PORT.scheduler });
    assert.deepEqual(hostPort(worker.OLLAMA_URL), { host: 'ollama', port: 11434 });
    for (const name of ['edge', 'scheduler', 'worker']) assert.equal(environment(name).MODEL_CATALOGUE, '/app/deploy/models.yaml');
  });

  it('runs two scheduler replicas with their own names; the worker lists both', () => {
    const replicas = Object.keys(services).filter((name) => service(name).image === service('scheduler').image);
    assert.deepEqual(replicas, ['scheduler', 'scheduler-2']);
    const ids = replicas.map((name) => environment(name).SCHEDULER_REPLICA_ID);
    assert.deepEqual(ids, replicas, 'each replica is named in the lease by its service name');
    for (const name of replicas) {
      const env = environment(name);
      assert.deepEqual(hostPort(env.SCHEDULER_GRPC_URL), { host: '0.0.0.0', port: GRPC_PORT.scheduler });
      assert.equal(env.PORT, String(HTTP_PORT.scheduler));
      assert.equal(env.REDIS_URL, environment('scheduler').REDIS_URL, 'one Redis: one lease');
      assert.equal(env.SWITCHYARD_PREFIX, environment('scheduler').SWITCHYARD_PREFIX);
      const known = configVariables('scheduler');
      for (const key of Object.keys(env)) assert.ok(known.has(key), `${name}: ${key} is not read by apps/scheduler/src/config`);
    }
    const targets = environment('worker').SCHEDULER_GRPC_URL.split(',').map(hostPort);
    assert.deepEqual(targets, replicas.map((host) => ({ host, port: GRPC_PORT.scheduler })));
  });

  it('sets only variables the services read', () => {
    for (const name of SERVICES) {
      const known = configVariables(name);
      for (const key of Object.keys(environment(name))) assert.ok(known.has(key), `${name}: ${key} is not read by apps/${name}/src/config (typo?)`);
    }
  });

  it('keeps secrets out of the file: passwords and tokens come from the environment (.env)', () => {
    for (const name of Object.keys(services)) {
      for (const [key, value] of Object.entries(environment(name))) {
        if (/PASSWORD|TOKEN|SECRET/.test(key)) assert.match(value, /^\$\{[A-Z_]+(:?[-?][^}]*)?\}$/, `${name}: ${key} must be \${...} from .env, not a literal`);
        const credentials = /:\/\/[^:/@]+:([^@]+)@/.exec(value);
        if (credentials) assert.match(credentials[1], /^\$\{[A-Z_]+/, `${name}: ${key} embeds a literal password`);
      }
    }
    const example = readText('deploy', 'compose.env.example');
    for (const v of ['POSTGRES_PASSWORD', 'GRAFANA_ADMIN_PASSWORD', 'SWITCHYARD_ADMIN_TOKEN']) assert.match(example, new RegExp(`^${v}=`, 'm'), `compose.env.example documents ${v}`);
  });

  it('mounts the Prometheus and Grafana files of deploy/ where their configurations expect them', () => {
    const mounts = (name: string) => asArray(service(name).volumes ?? [], `${name} volumes`).map(String).filter((v) => v.startsWith('./'));
    for (const name of ['prometheus', 'grafana']) {
      for (const m of mounts(name)) assert.ok(existsSync(repoPath(m.split(':')[0])), `${name} mounts missing ${m}`);
    }
    assert.ok(mounts('prometheus').some((m) => m.startsWith('./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml')));
    assert.ok(mounts('prometheus').some((m) => m.startsWith('./deploy/prometheus/rules.yml:/etc/prometheus/rules.yml')), 'rules.yml beside prometheus.yml (rule_files: [rules.yml])');
    assert.ok(mounts('grafana').some((m) => m.startsWith('./deploy/grafana/provisioning:/etc/grafana/provisioning')));
    const provider = asObject(asArray(asObject(readYaml('deploy/grafana/provisioning/dashboards/switchyard.yaml'), 'provider').providers, 'providers')[0], 'provider');
    const dashboardsPath = asString(asObject(provider.options, 'options').path, 'path');
    assert.ok(mounts('grafana').some((m) => m.startsWith(`./deploy/grafana/dashboards:${dashboardsPath}`)), `dashboards mounted at ${dashboardsPath}`);
  });

  it('Prometheus scrapes each service at its compose name and HTTP port', () => {
    const prom = asObject(readYaml('deploy/prometheus/prometheus.yml'), 'prometheus.yml');
    const jobs = asArray(prom.scrape_configs, 'scrape_configs').map((j) => asObject(j, 'job'));
    for (const name of SERVICES) {
      const job = jobs.find((j) => j.job_name === name);
      assert.ok(job, `job ${name}`);
      const targets = asArray(job.static_configs, 'static_configs').flatMap((c) => asArray(asObject(c, 'static_config').targets, 'targets').map(String));
      assert.ok(targets.length > 0);
      for (const t of targets) {
        const { host, port } = hostPort(t);
        assert.ok(services[host], `${name} target ${t}: no compose service ${host}`);
        assert.equal(port, HTTP_PORT[name]);
      }
    }
    const ds = asObject(asArray(asObject(readYaml('deploy/grafana/provisioning/datasources/prometheus.yaml'), 'ds').datasources, 'datasources')[0], 'datasource');
    assert.deepEqual(hostPort(asString(ds.url, 'url')), { host: 'prometheus', port: 9090 });
  });
});

describe('Dockerfile', () => {
  const built = SERVICES.map((name) => ({ name, build: asObject(service(name).build, `${name} build`) }));

  it('is a multi-stage build from node:20-bookworm-slim', () => {
    assert.ok(dockerfile.stages.length >= 3, 'multiple FROM stages');
    for (const stage of dockerfile.stages) {
      if (dockerfile.stages.some((s) => s.name === stage.from)) continue;
      assert.equal(stage.from, 'node:20-bookworm-slim', `stage ${stage.name} base image`);
    }
  });

  it('has a target per service, which compose builds', () => {
    for (const { name, build } of built) {
      assert.equal(build.context, '.', `${name} builds from the repository root`);
      assert.equal(build.dockerfile ?? 'Dockerfile', 'Dockerfile');
      assert.equal(build.target, name, `${name} builds target ${name}`);
      assert.ok(dockerfile.stages.some((s) => s.name === name), `no stage ${name}`);
    }
  });

  it('runs every service as a non-root USER', () => {
    for (const name of SERVICES) {
      const user = effective(dockerfile, name, 'USER');
      assert.ok(user !== undefined, `${name}: no USER`);
      assert.ok(!['root', '0', '0:0', 'root:root'].includes(user), `${name} runs as ${user}`);
    }
  });

  it('starts each service with the TypeScript runner, on its port, with a health check', () => {
    for (const name of SERVICES) {
      const cmd = JSON.parse(effective(dockerfile, name, 'CMD') ?? '[]') as string[];
      assert.deepEqual(cmd, ['node', 'tools/scripts/run-ts.mjs', `apps/${name}/src/main.ts`]);
      assert.ok(existsSync(repoPath(cmd[2])), `${cmd[2]} exists`);
      assert.equal(effectiveEnv(dockerfile, name).PORT, String(HTTP_PORT[name]));
      assert.equal(effectiveEnv(dockerfile, name).HOST, '0.0.0.0');
      assert.match(effective(dockerfile, name, 'HEALTHCHECK') ?? '', /\/readyz/);
      assert.equal(baseImage(dockerfile, name), 'node:20-bookworm-slim');
    }
  });

  it('installs node_modules with npm ci from the lock file in a build stage', () => {
    const deps = dockerfile.stages.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args)));
    assert.ok(deps, 'a stage runs npm ci');
    assert.ok(deps.instructions.some((i) => i.keyword === 'COPY' && copySources(i.args).sources.includes('package-lock.json')));
    const runtime = dockerfile.stages.find((s) => s.instructions.some((i) => i.keyword === 'COPY' && copySources(i.args).from === deps.name));
    assert.ok(runtime, `a later stage copies node_modules from ${deps.name}`);
  });

  it('copies only files that exist and that .dockerignore lets through', () => {
    const ignored = dockerignoreMatcher(readText('.dockerignore'));
    const copied: string[] = [];
    for (const stage of dockerfile.stages) {
      for (const i of stage.instructions.filter((x) => x.keyword === 'COPY' || x.keyword === 'ADD')) {
        const { from, sources } = copySources(i.args);
        if (from) continue;
        for (const src of sources) {
          const p = src.replace(/^\.\//, '').replace(/\/$/, '');
          assert.ok(existsSync(repoPath(p)), `COPY ${src}: missing`);
          assert.ok(!ignored(p), `COPY ${src}: excluded by .dockerignore`);
          copied.push(p);
        }
      }
    }
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json', 'apps', 'libs', 'tools/scripts', 'deploy/models.yaml']) assert.ok(copied.includes(needed), `the image needs ${needed}`);
  });

  it('.dockerignore keeps what the services need and drops the rest', () => {
    const ignored = dockerignoreMatcher(readText('.dockerignore'));
    for (const kept of ['apps/edge/src/main.ts', 'libs/contracts/src/index.ts', 'tools/scripts/run-ts.mjs', 'deploy/models.yaml', 'tsconfig.base.json']) assert.equal(ignored(kept), false, `${kept} must reach the build`);
    for (const dropped of ['node_modules/yaml/package.json', '.git/HEAD', 'apps/edge/src/app.spec.ts', 'tools/scripts/boundaries.spec.ts', 'deploy/k8s/edge.yaml', 'tools/ollama-sim/src/main.ts', '.env']) assert.equal(ignored(dropped), true, `${dropped} should not be sent`);
  });
});
