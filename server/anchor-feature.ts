// Tamper evidence in the daemon (issue 11): the device key and the anchor file outside the store
// (core/anchor). The routing feature attaches the egress ledger, the tools feature the audit log;
// each durable append is then followed by a signed checkpoint before it is acknowledged. Serves
// `hearth/egress/verify` (the audit log's verify lives with the tools feature).
import type { Daemon, Feature } from './daemon.js';
import { EgressVerify } from './protocol.js';
import { DeviceAnchor } from '../core/anchor/index.js';

export const anchorFeature: Feature = async (d: Daemon) => {
  // A refused key (group/world readable, not ours) stops the start with its fix, like the token.
  d.anchor = await DeviceAnchor.open(d.paths.home, d.store, { log: (level, msg) => d.log(level, msg) });
  const anchor = d.anchor;
  d.onDispose(() => anchor.close()); // registered first, so it runs last: after the logs' last appends
  d.router.onRequest(EgressVerify, () => anchor.verify('egress'));
};
