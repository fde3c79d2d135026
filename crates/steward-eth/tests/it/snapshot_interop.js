// Cross-checks Steward's Snapshot votes with Snapshot's own client and ethers v6.
// Run by tests/it/snapshot.rs with NODE_PATH pointing at tools/node_modules.
// stdin: {"key": "0x..", "ours": [envelope...], "theirs": [{type, space, proposal, choice, reason, app, timestamp, metadata}]}
// stdout: {"ours": [{ethers, snapshot, hash}], "theirs": [envelope...]}
'use strict';
const ethers = require('ethers');
const snapshot = require('@snapshot-labs/snapshot.js');
const { Wallet: WalletV5 } = require('@ethersproject/wallet');

async function main() {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const ours = [];
  for (const env of input.ours) {
    const { domain, types, message } = env.data;
    let recovered = null;
    try {
      recovered = ethers.verifyTypedData(domain, types, message, env.sig);
    } catch (e) {
      recovered = 'error: ' + e.message;
    }
    // snapshot.js's own check (EOA path: no network needed when the signature matches).
    const ok = recovered === env.address
      ? await snapshot.utils.verify(env.address, env.sig, env.data)
      : false;
    ours.push({
      ethers: recovered,
      snapshot: ok,
      hash: ethers.TypedDataEncoder.hash(domain, types, message),
      snapshot_hash: snapshot.utils.getHash(env.data),
    });
  }
  // Sign with Snapshot's client exactly as a user's browser would; capture instead of POSTing.
  const wallet = new WalletV5(input.key);
  const client = new snapshot.Client712('http://127.0.0.1:9');
  client.send = async (envelope) => envelope;
  const theirs = [];
  for (const v of input.theirs) {
    theirs.push(await client.vote(wallet, wallet.address, { ...v }));
  }
  process.stdout.write(JSON.stringify({ ours, theirs }));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
