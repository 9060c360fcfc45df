// Regenerates deploy/k8s/models-configmap.yaml from deploy/models.yaml (the ConfigMap must hold
// exactly the same text; deploy/k8s.spec.ts checks). Usage: node deploy/scripts/sync-models-configmap.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const deploy = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const models = readFileSync(path.join(deploy, 'models.yaml'), 'utf8');
if (!models.endsWith('\n') || models.endsWith('\n\n')) throw new Error('deploy/models.yaml must end with exactly one newline');
const body = models
  .slice(0, -1)
  .split('\n')
  .map((line) => (line === '' ? '' : `    ${line}`))
  .join('\n');
const out = `# deploy/models.yaml as a ConfigMap, mounted at /etc/switchyard/models.yaml (MODEL_CATALOGUE).
# Generated: after changing deploy/models.yaml run \`node deploy/scripts/sync-models-configmap.mjs\`
# (deploy/k8s.spec.ts checks both are identical), apply, then
#   kubectl -n switchyard rollout restart deployment/edge deployment/scheduler statefulset/worker
apiVersion: v1
kind: ConfigMap
metadata:
  name: switchyard-models
  namespace: switchyard
  labels:
    app.kubernetes.io/part-of: switchyard
data:
  models.yaml: |
${body}
`;
writeFileSync(path.join(deploy, 'k8s', 'models-configmap.yaml'), out);
console.log('wrote deploy/k8s/models-configmap.yaml');
