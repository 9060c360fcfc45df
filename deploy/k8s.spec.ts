import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Namespace, ConfigMap, Secret, Service as K8sService, PersistentVolumeClaim, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet, DaemonSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { asArray, asObject, asString, isObject, listFiles, readText, readYaml, readYamlDocuments } from './support/repo';
import { configVariables, GRPC_PORT, HTTP_PORT, Service, SERVICES } from './support/services';

const K8S = 'deploy/k8s';
const NAMESPACE = 'switchyard';
const SECRET_NAME = 'switchyard-secrets';

interface Validatable {
  validate(): void;
}
/** A kubernetes-models class: its constructor takes the object's data. */
type ModelClass = new (data: never) => Validatable;

/** Every kind the manifests may use, by `apiVersion/kind`, to its schema-validating class. */
const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': K8sService,
  'v1/ServiceAccount': ServiceAccount,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/DaemonSet': DaemonSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  doc: Record<string, unknown>;
}

function readManifests(file: string): Manifest[] {
  return readYamlDocuments(K8S, file).map((d) => {
    const doc = asObject(d, file);
    const metadata = asObject(doc.metadata, `${file} metadata`);
    return {
      file,
      apiVersion: asString(doc.apiVersion, `${file} apiVersion`),
      kind: asString(doc.kind, `${file} kind`),
      name: asString(metadata.name, `${file} metadata.name`),
      namespace: typeof metadata.namespace === 'string' ? metadata.namespace : undefined,
      doc,
    };
  });
}

const kustomization = asObject(readYaml(K8S, 'kustomization.yaml'), 'kustomization.yaml');
const resourceFiles = asArray(kustomization.resources, 'kustomization resources').map((r) => asString(r, 'resource'));
const manifests = resourceFiles.flatMap(readManifests);
const workloads = manifests.filter((m) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(m.kind));

/** The pod template spec of a workload, typed as Kubernetes' PodSpec (after schema validation). */
function podSpec(m: Manifest): IPodSpec {
  const template = asObject(asObject(m.doc.spec, `${m.name} spec`).template, `${m.name} template`);
  return asObject(template.spec, `${m.name} pod spec`) as unknown as IPodSpec;
}
function podLabels(m: Manifest): Record<string, string> {
  const template = asObject(asObject(m.doc.spec, `${m.name} spec`).template, `${m.name} template`);
  return asObject(asObject(template.metadata, 'template metadata').labels, 'template labels') as Record<string, string>;
}
function podAnnotations(m: Manifest): Record<string, string> {
  const template = asObject(asObject(m.doc.spec, `${m.name} spec`).template, `${m.name} template`);
  const annotations = asObject(template.metadata, 'template metadata').annotations;
  return isObject(annotations) ? (annotations as Record<string, string>) : {};
}
function matches(selector: Record<string, unknown>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
function workload(service: Service): Manifest {
  const w = workloads.find((m) => m.name === service);
  assert.ok(w, `no workload ${service}`);
  return w;
}
function serviceContainer(service: Service): IContainer {
  const c = podSpec(workload(service)).containers.find((x) => x.name === service);
  assert.ok(c, `${service}: no container named ${service}`);
  return c;
}
function configMapData(name: string): Record<string, string> {
  const cm = manifests.find((m) => m.kind === 'ConfigMap' && m.name === name);
  assert.ok(cm, `no ConfigMap ${name}`);
  return asObject(cm.doc.data, `${name} data`) as Record<string, string>;
}
/** A container's effective plain environment: envFrom ConfigMaps, then env values (secrets as `secret:<name>/<key>`). */
function containerEnv(c: IContainer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) if (from.configMapRef?.name) Object.assign(env, configMapData(from.configMapRef.name));
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) env[e.name] = `secret:${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`;
    else if (e.valueFrom?.fieldRef) env[e.name] = `field:${e.valueFrom.fieldRef.fieldPath}`;
  }
  return env;
}
function portNumber(c: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}
function k8sService(name: string): Manifest {
  const s = manifests.find((m) => m.kind === 'Service' && m.name === name);
  assert.ok(s, `no Service ${name}`);
  return s;
}
function servicePorts(name: string): number[] {
  return asArray(asObject(k8sService(name).doc.spec, 'spec').ports, 'ports').map((p) => Number(asObject(p, 'port').port));
}
function hostPort(value: string): { host: string; port: number } {
  const m = /^(?:[a-z]+:\/\/)?(?:[^@/]*@)?([^:/]+):(\d+)/.exec(value);
  assert.ok(m, `not host:port: ${value}`);
  return { host: m[1], port: Number(m[2]) };
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('kustomization.yaml lists every manifest but the Secret example, and each exists', () => {
    const yamlFiles = listFiles(K8S, /\.ya?ml$/).filter((f) => f !== 'kustomization.yaml');
    assert.deepEqual([...resourceFiles].sort(), yamlFiles.filter((f) => f !== 'secret.example.yaml').sort());
  });

  it('every document validates against the Kubernetes schema of its kind', () => {
    const all = [...manifests, ...readManifests('secret.example.yaml')];
    assert.ok(all.length >= 15, `only ${all.length} documents`);
    for (const m of all) {
      const Model = MODELS[`${m.apiVersion}/${m.kind}`];
      assert.ok(Model, `${m.file}: ${m.apiVersion} ${m.kind} is not a kind the tests know`);
      assert.doesNotThrow(() => new Model(m.doc as never).validate(), (err: unknown) => {
        throw new Error(`${m.file} ${m.kind}/${m.name}: ${err instanceof Error ? err.message : String(err)}`);
      });
    }
  });

  it('puts everything in the switchyard namespace, names unique per kind', () => {
    for (const m of manifests) if (m.kind !== 'Namespace') assert.equal(m.namespace, NAMESPACE, `${m.file} ${m.kind}/${m.name}`);
    assert.ok(manifests.some((m) => m.kind === 'Namespace' && m.name === NAMESPACE));
    const keys = manifests.map((m) => `${m.kind}/${m.name}`);
    assert.equal(new Set(keys).size, keys.length, 'duplicate objects');
  });

  it('has a Deployment or StatefulSet and a Service per Switchyard service, plus Redis and PostgreSQL', () => {
    for (const name of [...SERVICES, 'redis', 'postgres']) {
      const w = workloads.find((m) => m.name === name);
      assert.ok(w, `no workload ${name}`);
      k8sService(name);
    }
    for (const name of ['redis', 'postgres']) assert.equal(workload(name as Service).kind, 'StatefulSet', `${name} is a StatefulSet`);
    for (const name of ['edge', 'auth']) assert.equal(workload(name as Service).kind, 'Deployment');
    assert.equal(workload('scheduler').kind, 'StatefulSet', 'scheduler replicas need stable addresses');
  });

  it('selectors match pod labels; Services reach a named container port of their pods', () => {
    for (const w of workloads) {
      const selector = asObject(asObject(asObject(w.doc.spec, 'spec').selector, 'selector').matchLabels, 'matchLabels');
      assert.ok(matches(selector, podLabels(w)), `${w.name}: selector does not match its pod labels`);
    }
    for (const s of manifests.filter((m) => m.kind === 'Service')) {
      const spec = asObject(s.doc.spec, 'spec');
      const selector = asObject(spec.selector, `${s.name} selector`);
      const targets = workloads.filter((w) => matches(selector, podLabels(w)));
      assert.equal(targets.length, 1, `Service ${s.name} should select exactly one workload`);
      const containers = podSpec(targets[0]).containers;
      for (const p of asArray(spec.ports, 'ports').map((x) => asObject(x, 'port'))) {
        const target = p.targetPort ?? p.port;
        assert.ok(containers.some((c) => portNumber(c, target as number | string) !== undefined), `Service ${s.name}: targetPort ${String(target)} is no container port`);
      }
    }
  });

  it('every Switchyard workload probes /healthz (liveness) and /readyz (readiness) on its HTTP port', () => {
    const deployments = workloads.filter((w) => w.kind === 'Deployment');
    assert.ok(deployments.length >= 2);
    const checked = [
      ...deployments.flatMap((d) => podSpec(d).containers.map((c) => ({ w: d, c }))),
      ...(['scheduler', 'worker'] as const).map((s) => ({ w: workload(s), c: serviceContainer(s) })),
    ];
    for (const { w, c } of checked) {
      const where = `${w.name}/${c.name}`;
      assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${where}: liveness on /healthz`);
      assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', `${where}: readiness on /readyz`);
      const service = c.name as Service;
      assert.ok(SERVICES.includes(service), `${where}: a Deployment runs only Switchyard services`);
      assert.equal(portNumber(c, c.livenessProbe?.httpGet?.port), HTTP_PORT[service], `${where}: liveness port`);
      assert.equal(portNumber(c, c.readinessProbe?.httpGet?.port), HTTP_PORT[service], `${where}: readiness port`);
      if (c.startupProbe) assert.equal(c.startupProbe.httpGet?.path, '/healthz');
      assert.equal(containerEnv(c).PORT, String(HTTP_PORT[service]));
    }
  });

  it('every container requests CPU and memory and has a memory limit', () => {
    for (const w of workloads) {
      for (const c of [...(podSpec(w).initContainers ?? []), ...podSpec(w).containers]) {
        const where = `${w.name}/${c.name}`;
        assert.ok(c.resources?.requests?.cpu !== undefined, `${where}: cpu request`);
        assert.ok(c.resources?.requests?.memory !== undefined, `${where}: memory request`);
        assert.ok(c.resources?.limits?.memory !== undefined, `${where}: memory limit`);
      }
    }
  });

  it('runs the Switchyard containers as non-root, read-only, without privilege escalation', () => {
    for (const service of SERVICES) {
      const pod = podSpec(workload(service));
      const c = serviceContainer(service);
      const runAsNonRoot = c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
      const runAsUser = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
      assert.equal(runAsNonRoot, true, `${service}: runAsNonRoot`);
      assert.ok(runAsUser !== undefined && runAsUser !== 0, `${service}: runAsUser`);
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${service}: allowPrivilegeEscalation`);
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${service}: readOnlyRootFilesystem`);
      assert.ok(c.volumeMounts?.some((v) => v.mountPath === '/tmp'), `${service}: a writable /tmp (SWC's cache)`);
      assert.match(c.image ?? '', /^switchyard\/[a-z]+:\d+\.\d+\.\d+$/, `${service}: a versioned image`);
    }
  });

  it('the worker runs beside Ollama, which gets one NVIDIA GPU', () => {
    const pod = podSpec(workload('worker'));
    const ollama = pod.containers.find((c) => /^ollama\/ollama(:|$)/.test(c.image ?? ''));
    assert.ok(ollama, 'an Ollama container in the worker pod');
    assert.equal(String(ollama.resources?.limits?.['nvidia.com/gpu']), '1', 'nvidia.com/gpu: 1 limit');
    const requested = ollama.resources?.requests?.['nvidia.com/gpu'];
    if (requested !== undefined) assert.equal(String(requested), '1');
    const env = containerEnv(serviceContainer('worker'));
    const { host, port } = hostPort(env.OLLAMA_URL);
    assert.equal(host, '127.0.0.1', 'the worker talks to its own Ollama');
    assert.equal(portNumber(ollama, 'ollama') ?? ollama.ports?.[0]?.containerPort, port);
    assert.equal(containerEnv(ollama).OLLAMA_NUM_PARALLEL, env.WORKER_SLOTS, "Ollama's parallel slots = the worker's slots");
    assert.ok(pod.tolerations?.some((t) => t.key === 'nvidia.com/gpu'), 'tolerates the GPU nodes taint');
  });

  it('a PodDisruptionBudget keeps edges serving during node drains', () => {
    const pdb = manifests.find((m) => m.kind === 'PodDisruptionBudget' && m.name === 'edge');
    assert.ok(pdb, 'a PodDisruptionBudget for the edge');
    const spec = asObject(pdb.doc.spec, 'pdb spec');
    assert.ok(matches(asObject(asObject(spec.selector, 'selector').matchLabels, 'matchLabels'), podLabels(workload('edge'))), 'it selects the edge pods');
    const replicas = Number(asObject(workload('edge').doc.spec, 'spec').replicas);
    assert.ok(replicas >= 2, 'at least two edges');
    if (spec.minAvailable !== undefined) assert.ok(Number(spec.minAvailable) >= 1 && Number(spec.minAvailable) < replicas, 'minAvailable leaves room to evict one');
    else assert.ok(spec.maxUnavailable !== undefined);
  });

  it('mounts the model catalogue ConfigMap, identical to deploy/models.yaml, where MODEL_CATALOGUE points', () => {
    const data = configMapData('switchyard-models');
    assert.equal(data['models.yaml'], readText('deploy', 'models.yaml'), 'deploy/k8s/models-configmap.yaml differs from deploy/models.yaml: run node deploy/scripts/sync-models-configmap.mjs');
    for (const service of ['edge', 'scheduler', 'worker'] as const) {
      const c = serviceContainer(service);
      const catalogue = containerEnv(c).MODEL_CATALOGUE;
      assert.ok(catalogue, `${service}: MODEL_CATALOGUE`);
      const mount = c.volumeMounts?.find((v) => catalogue.startsWith(`${v.mountPath}/`));
      assert.ok(mount, `${service}: nothing mounted at ${catalogue}`);
      const volume = podSpec(workload(service)).volumes?.find((v) => v.name === mount.name);
      assert.equal(volume?.configMap?.name, 'switchyard-models', `${service}: ${mount.mountPath} is the models ConfigMap`);
      assert.equal(catalogue.slice(mount.mountPath.length + 1), 'models.yaml');
    }
  });

  it('wires the services to each other through the environment', () => {
    for (const service of SERVICES) {
      const env = containerEnv(serviceContainer(service));
      assert.equal(env.HOST, '0.0.0.0', `${service} must listen on all interfaces`);
      const redis = hostPort(env.REDIS_URL);
      assert.equal(redis.host, 'redis');
      assert.ok(servicePorts('redis').includes(redis.port));
      const known = configVariables(service);
      for (const key of Object.keys(env)) assert.ok(known.has(key), `${service}: ${key} is not read by apps/${service}/src/config (typo?)`);
    }
    const auth = containerEnv(serviceContainer('auth'));
    assert.deepEqual(hostPort(auth.AUTH_GRPC_URL), { host: '0.0.0.0', port: GRPC_PORT.auth });
    assert.equal(auth.DATABASE_URL, `secret:${SECRET_NAME}/database-url`);
    assert.deepEqual(hostPort(containerEnv(serviceContainer('scheduler')).SCHEDULER_GRPC_URL), { host: '0.0.0.0', port: GRPC_PORT.scheduler });
    for (const client of ['edge', 'worker'] as const) {
      const { host, port } = hostPort(containerEnv(serviceContainer(client)).AUTH_GRPC_URL);
      assert.equal(host, 'auth');
      assert.ok(servicePorts('auth').includes(port), `${client}: auth Service has port ${port}`);
    }
    for (const target of containerEnv(serviceContainer('worker')).SCHEDULER_GRPC_URL.split(',')) {
      const scheduler = hostPort(target);
      assert.match(scheduler.host, /^scheduler-\d+\.scheduler$/, 'a scheduler replica by its stable name');
      assert.ok(servicePorts('scheduler').includes(scheduler.port));
    }
    assert.ok(servicePorts('auth').includes(GRPC_PORT.auth) && servicePorts('scheduler').includes(GRPC_PORT.scheduler));
  });

  it('runs two scheduler replicas (one leads, one stands by), each reachable by the workers at a stable address', () => {
    const w = workload('scheduler');
    const spec = asObject(w.doc.spec, 'scheduler spec');
    const replicas = Number(spec.replicas);
    assert.ok(replicas >= 2, 'a standby to take over');
    const service = asObject(k8sService('scheduler').doc.spec, 'scheduler Service spec');
    assert.equal(spec.serviceName, 'scheduler');
    assert.equal(service.clusterIP, 'None', 'headless: a DNS name per pod');
    assert.equal(containerEnv(serviceContainer('scheduler')).SCHEDULER_REPLICA_ID, 'field:metadata.name', 'the pod name names the replica in the lease');
    const targets = containerEnv(serviceContainer('worker')).SCHEDULER_GRPC_URL.split(',').map(hostPort);
    assert.deepEqual(
      targets.map((t) => t.host),
      Array.from({ length: replicas }, (_, i) => `scheduler-${i}.scheduler`),
      'the worker lists every replica',
    );
    for (const t of targets) assert.equal(t.port, GRPC_PORT.scheduler);
  });

  it('pods are annotated for Prometheus on their HTTP port, labelled as prometheus.k8s.yml expects', () => {
    for (const service of SERVICES) {
      const w = workload(service);
      const a = podAnnotations(w);
      assert.equal(a['prometheus.io/scrape'], 'true', `${service}: prometheus.io/scrape`);
      assert.equal(a['prometheus.io/port'], String(HTTP_PORT[service]));
      assert.equal(a['prometheus.io/path'], '/metrics');
      assert.equal(podLabels(w)['app.kubernetes.io/name'], service, 'the job label comes from app.kubernetes.io/name');
      assert.equal(podLabels(w)['app.kubernetes.io/part-of'], 'switchyard');
      assert.ok(serviceContainer(service).ports?.some((p) => p.name === 'http' && p.containerPort === HTTP_PORT[service]), `${service}: a port named http (scraped)`);
    }
  });

  it('holds no secret values: credentials come by secretKeyRef from a Secret that is not committed', () => {
    assert.ok(!manifests.some((m) => m.kind === 'Secret'), 'no Secret in the applied manifests');
    const example = readManifests('secret.example.yaml');
    assert.equal(example.length, 1);
    assert.equal(example[0].name, SECRET_NAME);
    const stringData = asObject(example[0].doc.stringData, 'stringData');
    assert.equal(example[0].doc.data, undefined, 'the example uses readable placeholders only');
    for (const [key, value] of Object.entries(stringData)) assert.match(String(value), /CHANGE_ME/, `secret.example.yaml ${key} must be a placeholder`);
    const secretKeys = new Set(Object.keys(stringData));
    for (const w of workloads) {
      for (const c of [...(podSpec(w).initContainers ?? []), ...podSpec(w).containers]) {
        for (const e of c.env ?? []) {
          const where = `${w.name}/${c.name} ${e.name}`;
          if (/PASSWORD|TOKEN|SECRET|DATABASE_URL|API_KEY/.test(e.name)) {
            assert.equal(e.value, undefined, `${where}: must come from a Secret`);
            const ref = e.valueFrom?.secretKeyRef;
            assert.ok(ref, `${where}: secretKeyRef`);
            assert.equal(ref.name, SECRET_NAME);
            assert.ok(secretKeys.has(ref.key), `${where}: key ${ref.key} is not in secret.example.yaml`);
          }
          if (e.value !== undefined) assert.doesNotMatch(e.value, /:\/\/[^/:@]+:[^@]+@|\bsk-[A-Za-z0-9]{16,}/, `${where}: a credential in plain text`);
        }
      }
    }
    for (const [key, value] of Object.entries(configMapData('switchyard-config'))) assert.doesNotMatch(`${key}=${value}`, /PASSWORD|TOKEN|SECRET|:\/\/[^/:@]+:[^@]+@/, `switchyard-config ${key}`);
  });
});
