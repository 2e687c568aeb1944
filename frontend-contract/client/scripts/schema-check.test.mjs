// The schema-change check on a scratch copy: removing a field the SPA may use fails it, unless
// frontend-contract/CHANGELOG.md records the change; adding a field never does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const client = join(dirname(fileURLToPath(import.meta.url)), '..');
const schema = readFileSync(join(client, '..', '..', 'schema.graphql'), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'autoshop-schema-check-'));

function check(newSchema, changelog) {
  const [oldPath, newPath, logPath] = ['old.graphql', 'new.graphql', 'CHANGELOG.md'].map((f) => join(scratch, f));
  writeFileSync(oldPath, schema);
  writeFileSync(newPath, newSchema);
  writeFileSync(logPath, changelog);
  const run = spawnSync(
    join(client, 'node_modules', '.bin', 'graphql-inspector'),
    ['diff', oldPath, newPath, '--rule', join(client, 'scripts', 'changelog-rule.cjs')],
    { cwd: client, encoding: 'utf8', env: { ...process.env, AUTOSHOP_CONTRACT_CHANGELOG: logPath } },
  );
  return { ok: run.status === 0, output: run.stdout + run.stderr };
}

function withoutCustomerName() {
  const start = schema.indexOf('type Customer implements Node {');
  const field = schema.indexOf('\n\tname: String!', start);
  assert.ok(start >= 0 && field > start, 'the schema has Customer.name');
  return schema.slice(0, field) + schema.slice(field + '\n\tname: String!'.length);
}

test('a removed field without a changelog line fails the check', () => {
  const { ok, output } = check(withoutCustomerName(), '# Changelog\n');
  assert.equal(ok, false, output);
  assert.match(output, /Field name was removed from object type Customer/);
});

test('the same removal recorded in the changelog passes', () => {
  const { ok, output } = check(withoutCustomerName(), '# Changelog\n- Removed `Customer.name`.\n');
  assert.equal(ok, true, output);
  assert.match(output, /recorded in CHANGELOG\.md/);
});

test('a line about another field does not excuse the removal', () => {
  const { ok, output } = check(withoutCustomerName(), '# Changelog\n- Removed `Customer.notes`.\n');
  assert.equal(ok, false, output);
});

test('an added field is not breaking', () => {
  const added = schema.replace('type Customer implements Node {', 'type Customer implements Node {\n\tnickname: String');
  const { ok, output } = check(added, '# Changelog\n');
  assert.equal(ok, true, output);
});
