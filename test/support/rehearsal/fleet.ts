/**
 * The fleet rehearsal's stage: two clusters of the example (alpha, beta) and a fleet verifier
 * trusting both, synthesized in one app as `cdk synth` does (the fleet's Lambda bundled; the
 * clusters' handlers are not run here), the cluster stacks created in moto first and the fleet
 * stack after them (its cross-stack references read their outputs), each cluster's documents
 * written to its buckets, and the fleet's bundled verifier run with its role's credentials through
 * the recording proxy, every call judged against the fleet role's policies and the buckets'.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App } from 'aws-cdk-lib';
import { validateConfig } from '../../../core/config';
import type { PublicJwk } from '../../../core/keys';
import { addClusterStacks } from '../../../lib/cluster-oidc-stack';
import { addFleetVerifyStacks } from '../../../lib/fleet-verify-stack';
import type { FleetVerifierConfig } from '../../../lib/fleet-verify-stack';
import { CDK_CONTEXT } from '../../infra/support/synth';
import { Moto, startMoto } from '../moto';
import { Deployment, deployToMoto, SessionCredentials } from './deploy';
import { evaluate, iamCallOf } from './iam';
import { LambdaProcess } from './lambda';
import { ProxiedCall, RecordingProxy, startRecordingProxy } from './proxy';
import type { CallJudgement } from './stage';
import { EXAMPLE_CONFIG_PATH, exampleCluster, logicalIdAt, SynthesizedTemplate, TemplateResource } from './template';

/** The clusters of the fleet rehearsal. */
export const FLEET_CLUSTERS = ['alpha', 'beta'] as const;
export type FleetClusterName = (typeof FLEET_CLUSTERS)[number];
/** The audience the fleet verifier accepts. */
export const FLEET_AUDIENCE = 'verify.fleet.example.internal';

/** One trusted cluster as created in moto. */
export interface FleetCluster {
  readonly deployment: Deployment;
  /** `https://<distribution domain>`: the issuer of its tokens. */
  readonly issuer: string;
  readonly documentsBucket: string;
  readonly jwksKey: string;
  readonly privateBucket: string;
}

/** The stage. */
export interface FleetStage {
  readonly moto: Moto;
  readonly proxy: RecordingProxy;
  readonly clusters: Readonly<Record<FleetClusterName, FleetCluster>>;
  readonly fleet: { readonly stack: SynthesizedTemplate; readonly deployment: Deployment; readonly verifierFunction: string };
  /** Publishes a cluster's JWKS where its sync would (straight to moto, not recorded). */
  putJwks(cluster: FleetClusterName, keys: readonly PublicJwk[]): Promise<void>;
  /** Writes a cluster's deny list (straight to moto). */
  putDenyList(cluster: FleetClusterName, text: string): Promise<void>;
  /** Starts a warm environment of the fleet verifier with its role's credentials. */
  startVerifier(): Promise<LambdaProcess>;
  /** Judges recorded calls of the verifier against its role's policies and the buckets' policies. */
  judgeCalls(calls: readonly ProxiedCall[]): CallJudgement[];
  close(): Promise<void>;
}

function templateOf(outdir: string, artifactId: string, stackName: string): SynthesizedTemplate {
  const template = JSON.parse(readFileSync(path.join(outdir, `${artifactId}.template.json`), 'utf8')) as { Resources: Record<string, TemplateResource>; Outputs?: Record<string, { Value: unknown }> };
  return { outdir, artifactId, stackName, resources: template.Resources, outputs: template.Outputs ?? {} };
}

/** Sets the stage; see the module comment. */
export async function startFleetStage(): Promise<FleetStage> {
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const outdir = mkdtempSync(path.join(tmpdir(), 'kube-oidc-fleet-rehearsal-'));
    cleanup.push(async () => rmSync(outdir, { recursive: true, force: true }));
    const configFolder = path.dirname(EXAMPLE_CONFIG_PATH);
    const clusters = validateConfig(
      { clusters: FLEET_CLUSTERS.map((name) => ({ ...exampleCluster(), name })) },
      { readKeyFile: (file) => readFileSync(path.resolve(configFolder, file), 'utf8') },
    );
    const fleetConfig: FleetVerifierConfig = {
      name: 'rehearsal',
      trustClusters: [...FLEET_CLUSTERS],
      externalIssuers: [],
      audiences: [FLEET_AUDIENCE],
      iamAuth: false,
      throttle: { rateLimit: 50, burstLimit: 100 },
    };
    // Only the fleet's Lambda is bundled: the clusters' handlers do not run in this rehearsal.
    const app = new App({ outdir, context: { ...CDK_CONTEXT, 'aws:cdk:enable-path-metadata': true, 'aws:cdk:bundling-stacks': ['OidcFleet-rehearsal'] } });
    const clusterStacks = addClusterStacks(app, clusters);
    const [fleetStack] = addFleetVerifyStacks(app, [fleetConfig], clusters, new Map(clusterStacks.map((stack, i) => [clusters[i].name, stack.issuerSite])));
    app.synth();

    const moto = await startMoto();
    cleanup.push(() => moto.stop());
    const deployed = new Map<string, Deployment>();
    const clusterEntries = {} as Record<FleetClusterName, FleetCluster>;
    for (const [i, name] of FLEET_CLUSTERS.entries()) {
      const stack = templateOf(outdir, clusterStacks[i].artifactId, clusterStacks[i].stackName);
      const deployment = await deployToMoto(stack, moto);
      deployed.set(stack.stackName, deployment);
      const distribution = logicalIdAt(stack, 'AWS::CloudFront::Distribution', '/IssuerSite/Distribution');
      clusterEntries[name] = {
        deployment,
        issuer: String(deployment.resolver.resolve({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution, 'DomainName'] }]] })),
        documentsBucket: deployment.ref(logicalIdAt(stack, 'AWS::S3::Bucket', '/IssuerSite/DocumentsBucket')),
        privateBucket: deployment.ref(logicalIdAt(stack, 'AWS::S3::Bucket', '/IssuerSite/PrivateBucket')),
        jwksKey: clusterStacks[i].issuerSite.jwksKey,
      };
    }
    const fleetTemplate = templateOf(outdir, fleetStack.artifactId, fleetStack.stackName);
    const fleetDeployment = await deployToMoto(fleetTemplate, moto, {
      stackOutputs: (stackName, outputName) => {
        const deployment = deployed.get(stackName);
        if (!deployment) throw new Error(`Fn::GetStackOutput names ${stackName}, which was not deployed before the fleet`);
        return deployment.output(outputName);
      },
    });
    const verifierFunction = logicalIdAt(fleetTemplate, 'AWS::Lambda::Function', '/VerifyApi/Handler/Function');

    const proxy = await startRecordingProxy(moto.endpoint);
    cleanup.push(() => proxy.close());
    const s3 = new S3Client(moto.clientConfig);
    const sessions = new Map<string, string>();
    const processes: LambdaProcess[] = [];
    cleanup.push(async () => { await Promise.all(processes.map((p) => p.stop())); });
    const bucketPolicyOf = (bucket: string) => [...deployed.values(), fleetDeployment].map((d) => d.bucketPolicy(bucket)).find((policy) => policy !== undefined);

    return {
      moto,
      proxy,
      clusters: clusterEntries,
      fleet: { stack: fleetTemplate, deployment: fleetDeployment, verifierFunction },
      async putJwks(cluster, keys) {
        const entry = clusterEntries[cluster];
        await s3.send(new PutObjectCommand({ Bucket: entry.documentsBucket, Key: entry.jwksKey, Body: JSON.stringify({ keys }), ContentType: 'application/json' }));
      },
      async putDenyList(cluster, text) {
        await s3.send(new PutObjectCommand({ Bucket: clusterEntries[cluster].privateBucket, Key: 'control/deny-list.json', Body: text, ContentType: 'application/json' }));
      },
      async startVerifier() {
        const spec = fleetDeployment.functionSpec(verifierFunction);
        const credentials: SessionCredentials = await fleetDeployment.assumeRole(spec.roleLogicalId, 'fleet-verifier');
        sessions.set(credentials.accessKeyId, spec.roleLogicalId);
        const started = await LambdaProcess.start(spec, { credentials, endpoint: proxy.endpoint, region: fleetDeployment.pseudo.region });
        processes.push(started);
        return started;
      },
      judgeCalls(calls) {
        return calls.map((call) => {
          const iamCall = iamCallOf(call, fleetDeployment.pseudo);
          const base = { seq: call.seq, action: iamCall.action, resource: iamCall.resource };
          const roleLogicalId = sessions.get(call.accessKeyId ?? '');
          if (!roleLogicalId) return { ...base, principal: `access key ${call.accessKeyId ?? 'none'}`, decision: 'not-checked' as const, note: 'not the fleet verifier' };
          const roleArn = String(fleetDeployment.resolver.resolve({ 'Fn::GetAtt': [roleLogicalId, 'Arn'] }));
          const bucket = /^arn:aws:s3:::([^/]+)/.exec(iamCall.resource)?.[1];
          const bucketPolicy = bucket ? bucketPolicyOf(bucket) : undefined;
          const decision = evaluate(
            { identity: fleetDeployment.identityPolicies(roleLogicalId), resource: bucketPolicy ? [bucketPolicy] : [] },
            { principal: { type: 'AWS', id: roleArn }, action: iamCall.action, resource: iamCall.resource, context: { ...iamCall.context, 'aws:PrincipalArn': roleArn } },
          );
          return { ...base, principal: roleLogicalId, ...decision };
        });
      },
      async close() {
        for (const step of cleanup.reverse()) await step().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    throw err;
  }
}
