/**
 * The rehearsal's view of `cdk synth` output: synthesizes the app the way bin/app.ts does into a
 * temporary cloud assembly, then reads what a deployment would use from it: the template's
 * resources, each Lambda's bundled asset folder (through the asset manifest, as `cdk deploy`
 * finds it), and CloudFormation intrinsics resolved against the names the rehearsal created.
 */
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { validateConfig } from '../../../core/config';
import type { ClusterConfig } from '../../../core/config';
import { addClusterStacks } from '../../../lib/cluster-oidc-stack';
import { CDK_CONTEXT, REPO_ROOT } from '../../infra/support/synth';

/** A JSON object of a template. */
export type Json = Record<string, unknown>;

/** One resource of a CloudFormation template. */
export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Json;
  readonly Metadata?: Json;
  readonly DependsOn?: string | string[];
}

/** A synthesized stack: its template and where its assets are. */
export interface SynthesizedTemplate {
  /** The cloud assembly folder (`cdk.out`). */
  readonly outdir: string;
  /** The stack's artifact id in the assembly (names its template and asset manifest files). */
  readonly artifactId: string;
  readonly stackName: string;
  readonly resources: Readonly<Record<string, TemplateResource>>;
  /** The template's Outputs, which other stacks of the app may read (`Fn::GetStackOutput`). */
  readonly outputs?: Readonly<Record<string, { readonly Value: unknown }>>;
}

/** A synthesized cluster stack. */
export interface SynthesizedStack extends SynthesizedTemplate {
  /** The validated cluster the stack was made from. */
  readonly cluster: ClusterConfig;
}

/** Answers `Fn::GetStackOutput` of another stack of the app, deployed first. */
export type StackOutputLookup = (stackName: string, outputName: string) => string;

/** The example configuration shipped with the project. */
export const EXAMPLE_CONFIG_PATH = path.join(REPO_ROOT, 'config', 'clusters.json');

/** Additions to the example cluster that turn on the code paths a rehearsal must run. */
export interface ExampleAdditions {
  /** Enables `keySources.upload` with these writers (an upload then triggers the sync). */
  readonly uploadWriterArns?: readonly string[];
  /** Adds `keySources.clusterJwks`. */
  readonly clusterJwks?: { readonly url: string; readonly caBundlePem?: string; readonly tokenParameterName?: string };
}

/**
 * The first cluster of config/clusters.json, as the raw JSON an operator writes, with the
 * optional key sources added; key files stay relative to config/.
 */
export function exampleCluster(additions: ExampleAdditions = {}): Json {
  const file = JSON.parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8')) as { clusters: Json[] };
  const cluster = structuredClone(file.clusters[0]);
  const keySources = { ...(cluster.keySources as Json) };
  if (additions.uploadWriterArns) keySources.upload = { enabled: true, writerArns: [...additions.uploadWriterArns] };
  if (additions.clusterJwks) keySources.clusterJwks = { ...additions.clusterJwks };
  return { ...cluster, keySources };
}

/**
 * Synthesizes one cluster with Lambda bundling, exactly as `cdk synth` does it with cdk.json's
 * feature flags (cdk-nag is left to the infra tests: it judges the template, not the run).
 */
export function synthesizeCluster(rawCluster: Json): SynthesizedStack {
  const outdir = mkdtempSync(path.join(tmpdir(), 'kube-oidc-rehearsal-'));
  const configFolder = path.dirname(EXAMPLE_CONFIG_PATH);
  const [cluster] = validateConfig({ clusters: [rawCluster] }, { readKeyFile: (file) => readFileSync(path.resolve(configFolder, file), 'utf8') });
  // `cdk synth` turns path metadata on (--path-metadata defaults to true); resources are found by it.
  const app = new App({ outdir, context: { ...CDK_CONTEXT, 'aws:cdk:enable-path-metadata': true } });
  const [stack] = addClusterStacks(app, [cluster]);
  app.synth();
  const template = JSON.parse(readFileSync(path.join(outdir, `${stack.artifactId}.template.json`), 'utf8')) as { Resources: Record<string, TemplateResource> };
  return { outdir, artifactId: stack.artifactId, stackName: stack.stackName, resources: template.Resources, cluster };
}

/** The logical ids of every resource of a type. */
export function logicalIdsOfType(stack: SynthesizedTemplate, type: string): string[] {
  return Object.entries(stack.resources).filter(([, resource]) => resource.Type === type).map(([id]) => id);
}

/** The one resource of a type whose construct path contains `pathPart` (for example `JwksSync/Handler`). */
export function logicalIdAt(stack: SynthesizedTemplate, type: string, pathPart: string): string {
  const matches = logicalIdsOfType(stack, type).filter((id) => String(stack.resources[id].Metadata?.['aws:cdk:path'] ?? '').includes(pathPart));
  if (matches.length !== 1) throw new Error(`expected one ${type} at ${pathPart}, found ${matches.length}: ${matches.join(', ')}`);
  return matches[0];
}

/**
 * The folder holding a Lambda function's bundle: its `Code.S3Key` names the zip `cdk deploy`
 * uploads, and the asset manifest names the folder that zip is made from.
 */
export function lambdaAssetFolder(stack: SynthesizedTemplate, functionLogicalId: string): string {
  const code = stack.resources[functionLogicalId]?.Properties?.Code as { S3Key?: unknown } | undefined;
  if (typeof code?.S3Key !== 'string') throw new Error(`${functionLogicalId} has no Code.S3Key: not a bundled asset`);
  const manifest = JSON.parse(readFileSync(path.join(stack.outdir, `${stack.artifactId}.assets.json`), 'utf8')) as {
    files: Record<string, { source: { path: string; packaging?: string }; destinations: Record<string, { objectKey: string }> }>;
  };
  for (const entry of Object.values(manifest.files)) {
    if (Object.values(entry.destinations).some((destination) => destination.objectKey === code.S3Key)) {
      return path.join(stack.outdir, entry.source.path);
    }
  }
  throw new Error(`no asset of ${stack.artifactId}.assets.json is uploaded as ${code.S3Key}`);
}

/** What a created resource answers to `Ref` and `Fn::GetAtt`. */
export interface PhysicalResource {
  readonly ref: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** Pseudo parameters of the rehearsal's account and region. */
export interface PseudoParameters {
  readonly accountId: string;
  readonly region: string;
  readonly partition: string;
}

/**
 * Resolves CloudFormation intrinsics (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select`, `Fn::Sub`)
 * against the resources created so far. A reference to a resource that was not created is an
 * error naming it, never a silent placeholder.
 */
export class IntrinsicResolver {
  private readonly physical = new Map<string, PhysicalResource>();

  constructor(private readonly stack: SynthesizedTemplate, readonly pseudo: PseudoParameters, private readonly stackOutputs?: StackOutputLookup) {}

  /** Records what a created (or stubbed) resource answers. */
  register(logicalId: string, resource: PhysicalResource): void {
    if (!this.stack.resources[logicalId]) throw new Error(`${logicalId} is not a resource of the template`);
    this.physical.set(logicalId, resource);
  }

  /** Whether a resource was registered. */
  has(logicalId: string): boolean {
    return this.physical.has(logicalId);
  }

  /** What `Ref` of a resource resolves to. */
  ref(logicalId: string): string {
    return this.resourceOf(logicalId).ref;
  }

  /** Resolves a template value. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    if (value === null || typeof value !== 'object') return value;
    const object = value as Json;
    const keys = Object.keys(object);
    if (keys.length === 1) {
      const [name] = keys;
      const argument = object[name];
      switch (name) {
        case 'Ref': return this.resolveRef(String(argument));
        case 'Fn::GetAtt': {
          const [logicalId, attribute] = Array.isArray(argument) ? argument.map(String) : String(argument).split('.');
          const attributes = this.resourceOf(logicalId).attributes;
          if (!(attribute in attributes)) throw new Error(`Fn::GetAtt ${logicalId}.${attribute}: the rehearsal does not know this attribute`);
          return attributes[attribute];
        }
        case 'Fn::Join': {
          const [separator, parts] = argument as [string, unknown[]];
          return (this.resolve(parts) as unknown[]).map((part) => this.asString(part, 'Fn::Join')).join(separator);
        }
        case 'Fn::Select': {
          const [index, list] = argument as [unknown, unknown];
          const items = this.resolve(list) as unknown[];
          return items[Number(this.resolve(index))];
        }
        case 'Fn::Sub': return this.substitute(argument);
        case 'Fn::GetStackOutput': {
          // A cross-stack reference of the same account and region: the other stack's output.
          const { StackName, OutputName } = this.resolve(argument) as { StackName: string; OutputName: string };
          if (!this.stackOutputs) throw new Error(`Fn::GetStackOutput ${StackName}.${OutputName}: deploy that stack first and pass its outputs`);
          return this.stackOutputs(StackName, OutputName);
        }
        default:
          if (name.startsWith('Fn::') || name === 'Condition') throw new Error(`${name} is not supported by the rehearsal's resolver`);
      }
    }
    const out: Json = {};
    for (const [key, item] of Object.entries(object)) out[key] = this.resolve(item);
    return out;
  }

  /** Resolves a value that must be a string. */
  resolveString(value: unknown): string {
    return this.asString(this.resolve(value), 'value');
  }

  private resolveRef(name: string): string {
    switch (name) {
      case 'AWS::AccountId': return this.pseudo.accountId;
      case 'AWS::Region': return this.pseudo.region;
      case 'AWS::Partition': return this.pseudo.partition;
      case 'AWS::URLSuffix': return 'amazonaws.com';
      case 'AWS::StackName': return this.stack.stackName;
      case 'AWS::NoValue': throw new Error('AWS::NoValue outside a condition is not supported');
      default: return this.ref(name);
    }
  }

  private substitute(argument: unknown): string {
    const [template, variables] = typeof argument === 'string' ? [argument, {}] : (argument as [string, Json]);
    return template.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
      if (name in variables) return this.asString(this.resolve(variables[name]), `Fn::Sub \${${name}}`);
      if (name.includes('.') && !name.startsWith('AWS::')) {
        const [logicalId, attribute] = name.split('.');
        return this.asString(this.resolve({ 'Fn::GetAtt': [logicalId, attribute] }), `Fn::Sub \${${name}}`);
      }
      return this.resolveRef(name);
    });
  }

  private resourceOf(logicalId: string): PhysicalResource {
    const found = this.physical.get(logicalId);
    if (found) return found;
    const type = this.stack.resources[logicalId]?.Type ?? 'not in the template';
    throw new Error(`${logicalId} (${type}) is referenced but the rehearsal did not create it`);
  }

  private asString(value: unknown, where: string): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new Error(`${where}: expected a string, got ${JSON.stringify(value)}`);
  }
}
