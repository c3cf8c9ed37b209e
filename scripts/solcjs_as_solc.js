#!/usr/bin/env node
// A `solc` executable for Slither (crytic-compile's Solc-json platform), answering `--version` and
// `--standard-json` with the solcjs of this repository's node_modules: the same pinned 0.8.37 the
// project builds with, so nothing is downloaded. Used by scripts/slither.py.
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));

const args = process.argv.slice(2);
if (args.includes('--version')) {
  console.log('solc, the solidity compiler commandline interface');
  console.log('Version: ' + solc.version());
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  console.error('solcjs_as_solc.js answers only --version and --standard-json; received: ' + args.join(' '));
  process.exit(2);
}
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const root = path.join(__dirname, '..');
const imports = (name) => {
  try {
    return { contents: fs.readFileSync(path.join(root, name), 'utf8') };
  } catch (error) {
    return { error: 'not found: ' + name };
  }
};
process.stdout.write(solc.compile(JSON.stringify(input), { import: imports }));
