#!/usr/bin/env node
// Asks the Verify API whether a Kubernetes service-account token is valid for an audience, and who
// it belongs to. Node.js 20 or later, no dependencies.
//
//   VERIFY_API=https://abc123defg.execute-api.eu-west-1.amazonaws.com AUDIENCE=orders.example.internal \
//     node verify.mjs "$TOKEN"        (or - to read the token from stdin)
//
// Exit status: 0 valid (the identity is printed as JSON), 1 refused (the reason is printed),
// 2 the question could not be asked (usage, network, Verify API unavailable).
import { pathToFileURL } from 'node:url';

/**
 * POST /verify. Resolves to the verdict: `{ authenticated: true, user, audiences, expiresAt,
 * namespace, serviceAccount, jti? }` or `{ authenticated: false, reason, message }`. Rejects when
 * no verdict came back (network, timeout, HTTP status other than 200): deny the request then.
 */
export async function verifyToken(token, { verifyApi, audience, timeoutMs = 3000 }) {
  return postJson(verifyApi, '/verify', { token, audiences: [audience] }, timeoutMs);
}

/**
 * POST /apis/authentication.k8s.io/v1/tokenreviews, for code written against Kubernetes'
 * TokenReview API. Resolves to the returned TokenReview (its `status` holds the verdict).
 */
export async function tokenReview(token, { verifyApi, audience, timeoutMs = 3000 }) {
  const review = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [audience] } };
  return postJson(verifyApi, '/apis/authentication.k8s.io/v1/tokenreviews', review, timeoutMs);
}

async function postJson(verifyApi, path, body, timeoutMs) {
  const response = await fetch(`${verifyApi.replace(/\/+$/, '')}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    // A redirect would carry the token somewhere else: refuse it.
    redirect: 'error',
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (response.status !== 200) {
    // 503 (with Retry-After) means no usable key set for a moment: a failure, never a "yes".
    throw new Error(`Verify API answered HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`);
  }
  return response.json();
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8').trim();
}

async function main() {
  const verifyApi = process.env.VERIFY_API;
  const audience = process.env.AUDIENCE;
  const argument = process.argv[2];
  if (!verifyApi || !audience || !argument) {
    console.error('usage: VERIFY_API=URL AUDIENCE=AUD node verify.mjs TOKEN|-');
    return 2;
  }
  const token = argument === '-' ? await readStdin() : argument;
  try {
    const verdict = await verifyToken(token, { verifyApi, audience });
    if (verdict.authenticated) {
      console.log(JSON.stringify(verdict, null, 2));
      return 0;
    }
    console.log(`refused: ${verdict.reason}: ${verdict.message}`);
    return 1;
  } catch (err) {
    console.error(`error: ${err.message}`);
    return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
