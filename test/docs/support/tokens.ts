/** Demo tokens for documentation tests, signed with local mode's demo key. */
import { createPrivateKey, randomUUID } from 'node:crypto';
import type { LocalMode } from '../../../cli/local-mode';
import { parseKeyMaterial } from '../../../core/keys';

/**
 * A token shaped like kube's, signed with local mode's demo key, for any audience (local mode's
 * own `mintDemoToken` only signs for its first audience).
 */
export async function demoTokenFor(mode: LocalMode, audience: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  if (!mode.demoPrivateKeyPem) throw new Error('local mode runs without its demo key');
  const { SignJWT, importPKCS8 } = await import('jose');
  const pkcs8 = createPrivateKey(mode.demoPrivateKeyPem).export({ type: 'pkcs8', format: 'pem' }) as string;
  const kid = parseKeyMaterial(mode.demoPrivateKeyPem, 'demo').keys[0].jwk.kid;
  return new SignJWT({
    'kubernetes.io': {
      namespace: 'default',
      serviceaccount: { name: 'demo', uid: randomUUID() },
      pod: { name: 'demo-pod', uid: randomUUID() },
    },
  })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(mode.issuer)
    .setSubject('system:serviceaccount:default:demo')
    .setAudience([audience])
    .setIssuedAt(nowSeconds)
    .setNotBefore(nowSeconds)
    .setExpirationTime(nowSeconds + 600)
    .setJti(randomUUID())
    .sign(await importPKCS8(pkcs8, 'RS256'));
}

/** The token with its signature's last characters changed: well formed, wrongly signed. */
export function tampered(token: string): string {
  return `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
}
