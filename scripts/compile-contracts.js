#!/usr/bin/env node
// Compiles contracts/*.sol with solcjs (npm `solc`, --standard-json) against the OpenZeppelin
// contracts in the tools' node_modules, and writes {Name: {abi, bytecode}} as JSON.
//
//   node scripts/compile-contracts.js [CONTRACTS_DIR] [OUT_FILE]
//
// CONTRACTS_DIR defaults to <repo>/contracts, OUT_FILE to stdout. The tools directory is
// $STEWARD_TOOLS_DIR or <repo>/tools/node_modules. `forge build` cannot be used offline (it
// downloads a native solc); this script is what steward-eth's testkit runs, and it caches the
// result keyed by the sources' hash.
'use strict';

const fs = require('fs');
const path = require('path');

const repo = path.resolve(__dirname, '..');
const toolsDir = path.resolve(process.env.STEWARD_TOOLS_DIR || path.join(repo, 'tools', 'node_modules'));
const contractsDir = path.resolve(process.argv[2] || path.join(repo, 'contracts'));
const outFile = process.argv[3];

module.paths.unshift(toolsDir);
let solc;
try {
  solc = require('solc');
} catch (e) {
  process.stderr.write(`compile-contracts: npm solc not found under ${toolsDir} (run scripts/setup-tools.sh)\n`);
  process.exit(2);
}

const sources = {};
for (const name of fs.readdirSync(contractsDir).sort()) {
  if (name.endsWith('.sol')) {
    sources[name] = { content: fs.readFileSync(path.join(contractsDir, name), 'utf8') };
  }
}
if (Object.keys(sources).length === 0) {
  process.stderr.write(`compile-contracts: no .sol files in ${contractsDir}\n`);
  process.exit(2);
}

function findImports(p) {
  // Package imports (@openzeppelin/...) come from the tools' node_modules; relative ones from
  // contracts/. Nothing outside those two roots is read.
  const roots = [toolsDir, contractsDir];
  for (const root of roots) {
    const full = path.resolve(root, p);
    if (full.startsWith(root + path.sep) && fs.existsSync(full)) {
      return { contents: fs.readFileSync(full, 'utf8') };
    }
  }
  return { error: `not found: ${p}` };
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    evmVersion: 'cancun',
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) {
  if (e.severity === 'error') process.stderr.write(`${e.formattedMessage}\n`);
}
if (errors.length > 0) process.exit(1);

const artifacts = { solc: solc.version(), contracts: {} };
for (const file of Object.keys(sources)) {
  for (const [name, c] of Object.entries(output.contracts[file] || {})) {
    artifacts.contracts[name] = { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
  }
}
const json = JSON.stringify(artifacts);
if (outFile) {
  const tmp = `${outFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, json);
  fs.renameSync(tmp, outFile);
} else {
  process.stdout.write(json);
}
