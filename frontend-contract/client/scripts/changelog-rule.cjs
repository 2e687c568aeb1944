// A graphql-inspector diff rule: a breaking change whose path is recorded in frontend-contract/CHANGELOG.md
// (written in backticks, `Type.field` or `Type.field.argument`) is a decision, not an accident, so it is reported
// as dangerous instead of failing the check. AUTOSHOP_CONTRACT_CHANGELOG names another changelog (for tests).
const fs = require('node:fs');
const path = require('node:path');

const changelogPath =
  process.env.AUTOSHOP_CONTRACT_CHANGELOG || path.join(__dirname, '..', '..', 'CHANGELOG.md');

function recordedPaths() {
  const text = fs.existsSync(changelogPath) ? fs.readFileSync(changelogPath, 'utf8') : '';
  return new Set([...text.matchAll(/`([A-Za-z_][\w.]*)`/g)].map((m) => m[1]));
}

module.exports = function changelogRule({ changes }) {
  const recorded = recordedPaths();
  return changes.map((change) => {
    if (change.criticality.level !== 'BREAKING' || !change.path || !recorded.has(change.path)) {
      return change;
    }
    return {
      ...change,
      criticality: { ...change.criticality, level: 'DANGEROUS', reason: 'recorded in CHANGELOG.md' },
      message: `${change.message} (recorded in CHANGELOG.md)`,
    };
  });
};
