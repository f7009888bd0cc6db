// Preloaded (node --require) into the Portkey gateway that bench/portkey.ts starts: its server
// (@hono/node-server's serve) listens on every interface and has no host flag, so a listen() that
// names no host is pinned to 127.0.0.1. The bench never opens a port beyond loopback.
'use strict';
const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || args[1] === undefined || typeof args[1] === 'function')) {
    const cb = typeof args[1] === 'function' ? args[1] : args[2];
    return listen.call(this, args[0], '127.0.0.1', ...(cb ? [cb] : []));
  }
  return listen.apply(this, args);
};
