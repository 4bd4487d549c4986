/** Demo tokens for documentation tests, signed with local mode's demo key. */
import { LocalMode, mintDemoToken } from '../../../cli/local-mode';

/** A demo token for any audience, bound to a pod but to no node, valid for ten minutes. */
export function demoTokenFor(mode: LocalMode, audience: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  return mintDemoToken(mode, nowSeconds, { audience, lifetimeSeconds: 600, boundToNode: false });
}

/** The token with its signature's last characters changed: well formed, wrongly signed. */
export function tampered(token: string): string {
  return `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
}
