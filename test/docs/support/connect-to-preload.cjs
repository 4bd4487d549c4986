/**
 * Preloaded (`node --require`) into a CLI run by a documentation test, so a documented command can
 * run verbatim against a local server: TLS connections to HOST:PORT are made to TARGET_HOST:TARGET_PORT
 * instead, like curl's --connect-to. The TLS server name stays HOST, so the certificate must
 * still name the documented host. Configured by KUBE_OIDC_TEST_CONNECT_TO="HOST:PORT=TARGET_HOST:TARGET_PORT";
 * does nothing without it. Test-only: never loaded by the CLI itself.
 */
'use strict';
const tls = require('node:tls');

const spec = process.env.KUBE_OIDC_TEST_CONNECT_TO;
const match = spec ? /^([^:=]+):(\d+)=([^:=]+):(\d+)$/.exec(spec) : null;
if (spec && !match) throw new Error(`KUBE_OIDC_TEST_CONNECT_TO must be HOST:PORT=TARGET_HOST:TARGET_PORT, got ${JSON.stringify(spec)}`);
if (match) {
  const [, host, port, targetHost, targetPort] = match;
  const connect = tls.connect;
  tls.connect = function connectTo(...args) {
    const options = args[0];
    if (options !== null && typeof options === 'object' && options.host === host && String(options.port) === port) {
      args[0] = { ...options, host: targetHost, port: Number(targetPort), servername: options.servername || host };
    }
    return connect.apply(this, args);
  };
}
