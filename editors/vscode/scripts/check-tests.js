#!/usr/bin/env node
// Companion to vscode-tmgrammar-test, run by `npm test` (as pretest and posttest).
//
//   node scripts/check-tests.js          before the grammar tests:
//     - every assertion line must have a shape the runner parses quickly: its parser
//       backtracks exponentially on some malformed lines (e.g. two " - " exclusion
//       groups), which would hang CI instead of failing;
//     - test/sketch.tfe, minus its header and assertion lines, must equal
//       ../fixtures/sketch.tfe (the program of the language design, section 2).
//   node scripts/check-tests.js --summary   after the grammar tests passed:
//     prints how many assertions ran, in the "N passed, N failed" form CI reads.
'use strict';
const fs = require('fs');
const path = require('path');
const { parseGrammarTestCase } = require('vscode-tmgrammar-test/dist/unit/parsing.js');

const root = path.join(__dirname, '..');
const testDir = path.join(root, 'test');
const files = fs.readdirSync(testDir).filter((f) => f.endsWith('.tfe')).sort();
if (files.length === 0) {
  console.error('no grammar test files in test/');
  process.exit(1);
}

const isAssertion = (l) => /^\/\/\s*(\^|<~*-)/.test(l);
const scope = String.raw`[A-Za-z0-9_][-A-Za-z0-9_.]*`;
const safeShape = new RegExp(
  String.raw`^//\s*(?:(?:\^+\s*)+|<~*-+\s+)` +
    String.raw`(?:${scope}(?:\s+${scope})*)?` +
    String.raw`(?:\s*-\s+${scope}(?:\s+${scope})*)?\s*$`
);

if (process.argv.includes('--summary')) {
  let assertions = 0;
  for (const f of files) {
    const tc = parseGrammarTestCase(fs.readFileSync(path.join(testDir, f), 'utf8'));
    assertions += tc.assertions.reduce((n, a) => n + a.scopeAssertions.length, 0);
  }
  console.log(`grammar: ${files.length} test files, every assertion held`);
  console.log(`grammar: ${assertions} passed, 0 failed`);
  process.exit(0);
}

let problems = 0;
for (const f of files) {
  const lines = fs.readFileSync(path.join(testDir, f), 'utf8').split(/\r?\n/);
  lines.forEach((l, i) => {
    if (isAssertion(l) && !safeShape.test(l)) {
      console.error(`${f}:${i + 1}: malformed assertion line (one "- excluded scopes" group at most):\n  ${l}`);
      problems++;
    }
  });
}

const sketch = fs.readFileSync(path.join(testDir, 'sketch.tfe'), 'utf8').split(/\r?\n/);
const body = sketch.slice(1).filter((l) => !isAssertion(l)).join('\n').replace(/\n*$/, '\n');
const fixture = fs.readFileSync(path.join(root, '..', 'fixtures', 'sketch.tfe'), 'utf8');
if (body !== fixture) {
  console.error('test/sketch.tfe no longer matches ../fixtures/sketch.tfe (the program of language.md section 2)');
  problems++;
}
if (problems) process.exit(1);
console.log(`grammar: ${files.length} test files checked (assertion syntax, sketch fixture)`);
