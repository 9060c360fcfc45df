import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ESLint } from 'eslint';

const root = path.resolve(__dirname, '../..');

async function lint(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result.messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
}

test('an app importing another app fails lint', async () => {
  const errors = await lint('apps/edge/src/boundary-probe.ts', "import { AppModule } from '../../auth/src/app.module';\nexport const x = AppModule;\n");
  assert.ok(errors.length > 0, 'expected a module-boundary error');
});

test('libs/contracts importing another lib fails lint', async () => {
  const errors = await lint('libs/contracts/src/boundary-probe.ts', "import { loadConfig } from '@switchyard/config';\nexport const x = loadConfig;\n");
  assert.ok(errors.some((e) => /tag/i.test(e) || /depend/i.test(e) || /Circular/i.test(e)), errors.join('\n'));
});

test('an app importing a lib by its alias passes lint', async () => {
  const errors = await lint('apps/edge/src/boundary-probe.ts', "import { loadConfig } from '@switchyard/config';\nexport const x = loadConfig;\n");
  assert.deepEqual(errors, []);
});

test('production code may not import the testing lib', async () => {
  const errors = await lint('apps/worker/src/boundary-probe.ts', "import { assertOpenAISchema } from '@switchyard/testing';\nexport const x = assertOpenAISchema;\n");
  assert.ok(errors.length > 0);
});
