// `make bench` (eip712): the ethers v6 side of the EIP-712 sign + recover benchmark, on the
// same Snapshot vote messages as crates/steward-eth/examples/bench_eip712.rs.
// Usage: NODE_PATH=tools/node_modules node crates/steward-eth/bench/eip712-ethers.js [N]
'use strict';
const ethers = require('ethers');
const n = Number(process.argv[2] || 3000);
const wallet = new ethers.Wallet('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const domain = { name: 'snapshot', version: '0.1.4' };
const types = (choice) => ({ Vote: [
  { name: 'from', type: 'string' }, { name: 'space', type: 'string' },
  { name: 'timestamp', type: 'uint64' }, { name: 'proposal', type: 'string' },
  { name: 'choice', type: choice }, { name: 'reason', type: 'string' },
  { name: 'app', type: 'string' }, { name: 'metadata', type: 'string' },
] });
const msgs = [];
for (let i = 0; i < n; i++) {
  let t, c;
  if (i % 3 === 0) { t = 'uint32'; c = 1 + (i % 4); }
  else if (i % 3 === 1) { t = 'uint32[]'; c = [1, 2 + (i % 3)]; }
  else { t = 'string'; c = JSON.stringify({ 1: 1 + (i % 5), 2: 1 }); }
  msgs.push([types(t), {
    from: wallet.address, space: 'bench.eth', timestamp: 1763800000 + i,
    proposal: '0x' + i.toString(16).padStart(64, '0'), choice: c,
    reason: 'reason ' + i, app: 'steward', metadata: '{}',
  }]);
}
function one([t, m]) {
  const h = ethers.TypedDataEncoder.hash(domain, t, m);
  const sig = wallet.signingKey.sign(h);
  if (ethers.recoverAddress(h, sig) !== wallet.address) throw new Error('recover mismatch');
}
for (const m of msgs.slice(0, 50)) one(m);
const t0 = process.hrtime.bigint();
for (const m of msgs) one(m);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
process.stdout.write(JSON.stringify({ messages: n, ethers_ops_per_sec: +(n / secs).toFixed(1) }) + '\n');
