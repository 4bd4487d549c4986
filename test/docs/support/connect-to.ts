/**
 * Lets a documented command run verbatim against a local test server: the environment under which
 * the CLI (Node, through the connect-to-preload.cjs preload) and curl (through a `.curlrc` in CURL_HOME)
 * connect to the local server whenever they connect to the documented `https://HOST` (port 443).
 *
 * Needed because `kube-oidc check` applies IAM's issuer rules: the documented issuer
 * (`https://oidc.example.com/...`) passes them, the local server's `https://127.0.0.1:PORT` does not.
 * The server's certificate must name HOST (`makeTestPki([HOST])`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The preload that redirects Node's TLS connections. */
export const CONNECT_TO_PRELOAD = join(__dirname, 'connect-to-preload.cjs');

/**
 * Environment variables routing `https://host` to `origin` (`https://127.0.0.1:PORT`). With
 * `curlHome`, a folder the caller owns and removes, curl is routed too.
 */
export function connectToEnv(host: string, origin: string, curlHome?: string): Record<string, string> {
  const target = new URL(origin);
  const env: Record<string, string> = {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${CONNECT_TO_PRELOAD}`.trim(),
    KUBE_OIDC_TEST_CONNECT_TO: `${host}:443=${target.hostname}:${target.port}`,
  };
  if (curlHome !== undefined) {
    writeFileSync(join(curlHome, '.curlrc'), `connect-to = "${host}:443:${target.hostname}:${target.port}"\n`);
    env.CURL_HOME = curlHome;
  }
  return env;
}
