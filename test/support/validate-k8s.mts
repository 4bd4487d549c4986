/**
 * Validates Kubernetes objects against the API's OpenAPI schemas, offline, with kubernetes-models
 * (core and apps/policy/rbac/admissionregistration from `kubernetes-models`, cert-manager CRDs
 * from `@kubernetes-models/cert-manager`; ajv underneath). ESM-only packages, so tests run this
 * file in a child process: `node --import tsx test/support/validate-k8s.mts < objects.json`.
 * Prints a JSON array: one { kind, name, valid, error? } per object; an unknown kind is invalid.
 */
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as admission from 'kubernetes-models/admissionregistration.k8s.io/v1';
import * as certManager from '@kubernetes-models/cert-manager/cert-manager.io/v1';

type Model = new (data: object) => { validate(): void };
const MODELS: Record<string, Record<string, unknown>> = {
  v1: core,
  'apps/v1': apps,
  'policy/v1': policy,
  'rbac.authorization.k8s.io/v1': rbac,
  'admissionregistration.k8s.io/v1': admission,
  'cert-manager.io/v1': certManager,
};

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const objects = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { apiVersion: string; kind: string; metadata?: { name?: string } }[];
  const results = objects.map((object) => {
    const model = MODELS[object.apiVersion]?.[object.kind] as Model | undefined;
    const base = { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata?.name ?? '' };
    if (!model) return { ...base, valid: false, error: `no schema for ${object.apiVersion} ${object.kind}` };
    try {
      new model(object).validate();
      return { ...base, valid: true };
    } catch (err) {
      return { ...base, valid: false, error: (err as Error).message };
    }
  });
  process.stdout.write(JSON.stringify(results));
}

void main();
