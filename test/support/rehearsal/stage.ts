/**
 * The rehearsal stage, set up once per test file: moto, a kube-apiserver stand-in serving the
 * cluster's JWKS over HTTPS with a private CA and a bearer token, the example cluster synthesized
 * with the upload and cluster-endpoint sources turned on, the stack created in moto, the
 * recording proxy the handlers talk through, and the CloudFront-like document server.
 *
 * Fails (never skips) when moto_server, openssl or the Lambda runtime's Node binary is missing.
 */
import { createPublicKey } from 'node:crypto';
import { rmSync } from 'node:fs';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { decodeJwt } from 'jose';
import type { PublicJwk } from '../../../core/keys';
import { IssuerServer, makeTestPki, startIssuerServer, TestPki } from '../issuer-server';
import { Moto, startMoto } from '../moto';
import { newTestKey, TestKey } from '../tokens';
import { Deployment, deployToMoto, MOTO_ACCOUNT, SessionCredentials } from './deploy';
import { DocumentServer, startDocumentServer } from './document-server';
import { evaluate, iamCallOf, PolicyDocument } from './iam';
import type { S3ObjectFacts } from './events';
import { LambdaProcess } from './lambda';
import { ProxiedCall, RecordingProxy, startRecordingProxy } from './proxy';
import { exampleCluster, logicalIdAt, logicalIdsOfType, synthesizeCluster, SynthesizedStack } from './template';

/** The principal the example config names as the only key writer (a role outside the stack). */
export const KEY_WRITER_ROLE = 'KeyPublisher';
export const KEY_WRITER_ARN = `arn:aws:iam::${MOTO_ACCOUNT}:role/${KEY_WRITER_ROLE}`;
/** The SecureString holding the bearer token the sync sends the API server. */
export const CLUSTER_TOKEN_PARAMETER = '/kube-oidc/rehearsal/jwks-reader-token';
/** The path kube-apiserver serves its keys on. */
export const CLUSTER_JWKS_PATH = '/openid/v1/jwks';

/** The PEM `PUBLIC KEY` of a test key, as an operator uploads it (kubeadm's sa.pub format). */
export function publicPemOf(key: TestKey): string {
  return createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }) as string;
}

/** One call's IAM judgement. */
export interface CallJudgement {
  readonly seq: number;
  /** Role logical id (or the principal's description when outside the stack). */
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly decision: 'allow' | 'explicit-deny' | 'implicit-deny' | 'not-checked';
  readonly statement?: string;
  readonly note?: string;
}

/** The stage. */
export interface Stage {
  readonly moto: Moto;
  readonly stack: SynthesizedStack;
  readonly deployment: Deployment;
  readonly proxy: RecordingProxy;
  readonly documentServer: DocumentServer;
  /** The fake kube-apiserver; its JWKS route can be broken per test. */
  readonly apiserver: IssuerServer;
  readonly pki: TestPki;
  /** The bearer token stored in SSM, which the API server stand-in expects. */
  readonly apiserverToken: string;
  /** The key the cluster endpoint serves. */
  readonly clusterKey: TestKey;
  readonly ids: {
    readonly syncFunction: string;
    readonly verifyFunction: string;
    readonly documentsBucket: string;
    readonly privateBucket: string;
    readonly distribution: string;
    readonly topic: string;
    readonly scheduleRule: string;
    readonly provider: string;
    /** Service-account roles by the id in the config. */
    readonly serviceAccountRoles: Readonly<Record<string, string>>;
  };
  readonly documentsBucket: string;
  readonly privateBucket: string;
  readonly issuer: string;
  /** An S3 client straight to moto (not recorded), for the test's own reads. */
  readonly s3: S3Client;
  /** Serves the cluster endpoint's JWKS with these keys (or breaks it with a raw response). */
  serveClusterKeys(keys: readonly PublicJwk[]): void;
  /** Starts a warm environment of a stack function with its role's credentials. */
  startFunction(functionLogicalId: string, overrides?: Readonly<Record<string, string>>): Promise<LambdaProcess>;
  /** Uploads an object under the private bucket as the key writer, through the proxy; returns what S3's event would report. */
  uploadAsKeyWriter(key: string, body: string | Buffer): Promise<S3ObjectFacts>;
  /** Deletes an object of the private bucket as the key writer, through the proxy. */
  deleteAsKeyWriter(key: string): Promise<void>;
  /** An object of a bucket as it is now (`undefined`: absent), read straight from moto. */
  readObject(bucket: string, key: string): Promise<{ body: string; etag: string; contentType?: string; cacheControl?: string } | undefined>;
  /** Judges every recorded call against the IAM policies of the principal that made it. */
  judgeCalls(calls: readonly ProxiedCall[]): CallJudgement[];
  close(): Promise<void>;
}

/** Sets the stage; see the module comment. */
export async function startStage(): Promise<Stage> {
  const moto = await startMoto();
  const cleanup: (() => Promise<void>)[] = [() => moto.stop()];
  try {
    const pki = makeTestPki();
    cleanup.push(async () => rmSync(pki.dir, { recursive: true, force: true }));
    const apiserver = await startIssuerServer({ tls: pki.server });
    cleanup.push(() => apiserver.close());
    const apiserverToken = `rehearsal-bearer-${Math.random().toString(36).slice(2)}`;
    const clusterKey = newTestKey('ES256');
    const serveClusterKeys = (keys: readonly PublicJwk[]) => apiserver.route(CLUSTER_JWKS_PATH, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys }) });
    serveClusterKeys([clusterKey.jwk]);

    const stack = synthesizeCluster(exampleCluster({
      uploadWriterArns: [KEY_WRITER_ARN],
      clusterJwks: { url: `${apiserver.origin}${CLUSTER_JWKS_PATH}`, caBundlePem: pki.caPem, tokenParameterName: CLUSTER_TOKEN_PARAMETER },
    }));
    cleanup.push(async () => rmSync(stack.outdir, { recursive: true, force: true }));
    const deployment = await deployToMoto(stack, moto);
    const config = moto.clientConfig;
    await new SSMClient(config).send(new PutParameterCommand({ Name: CLUSTER_TOKEN_PARAMETER, Value: apiserverToken, Type: 'SecureString' }));
    await new IAMClient(config).send(new CreateRoleCommand({ RoleName: KEY_WRITER_ROLE, AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${MOTO_ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] }) }));
    const writerSession = (await new STSClient(config).send(new AssumeRoleCommand({ RoleArn: KEY_WRITER_ARN, RoleSessionName: 'operator' }))).Credentials!;

    const proxy = await startRecordingProxy(moto.endpoint);
    cleanup.push(() => proxy.close());
    const distribution = logicalIdsOfType(stack, 'AWS::CloudFront::Distribution')[0];
    const documentServer = await startDocumentServer(deployment, distribution, config);
    cleanup.push(() => documentServer.close());

    const serviceAccountRoles: Record<string, string> = {};
    for (const role of stack.cluster.serviceAccountRoles) serviceAccountRoles[role.id] = logicalIdAt(stack, 'AWS::IAM::Role', `/Federation/${role.id}/Role`);
    const ids = {
      syncFunction: logicalIdAt(stack, 'AWS::Lambda::Function', '/JwksSync/Handler/Function'),
      verifyFunction: logicalIdAt(stack, 'AWS::Lambda::Function', '/VerifyApi/Handler/Function'),
      documentsBucket: logicalIdAt(stack, 'AWS::S3::Bucket', '/IssuerSite/DocumentsBucket'),
      privateBucket: logicalIdAt(stack, 'AWS::S3::Bucket', '/IssuerSite/PrivateBucket'),
      distribution,
      topic: logicalIdsOfType(stack, 'AWS::SNS::Topic')[0],
      scheduleRule: logicalIdAt(stack, 'AWS::Events::Rule', '/JwksSync/Schedule'),
      provider: logicalIdsOfType(stack, 'AWS::IAM::OIDCProvider')[0],
      serviceAccountRoles,
    };
    const s3 = new S3Client(config);
    const writerS3 = new S3Client({ ...config, endpoint: proxy.endpoint, credentials: { accessKeyId: writerSession.AccessKeyId!, secretAccessKey: writerSession.SecretAccessKey!, sessionToken: writerSession.SessionToken! } });
    const sessions = new Map<string, string>();
    const processes: LambdaProcess[] = [];
    cleanup.push(async () => { await Promise.all(processes.map((p) => p.stop())); });
    const issuer = String(deployment.resolver.resolve({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution, 'DomainName'] }]] }));

    const stage: Stage = {
      moto, stack, deployment, proxy, documentServer, apiserver, pki, apiserverToken, clusterKey, ids, s3, issuer,
      documentsBucket: deployment.ref(ids.documentsBucket),
      privateBucket: deployment.ref(ids.privateBucket),
      serveClusterKeys,
      async startFunction(functionLogicalId, overrides) {
        const spec = deployment.functionSpec(functionLogicalId);
        const credentials: SessionCredentials = await deployment.assumeRole(spec.roleLogicalId, spec.functionName.slice(0, 64));
        sessions.set(credentials.accessKeyId, spec.roleLogicalId);
        const started = await LambdaProcess.start(spec, { credentials, endpoint: proxy.endpoint, region: deployment.pseudo.region, ...(overrides ? { overrides } : {}) });
        processes.push(started);
        return started;
      },
      async uploadAsKeyWriter(key, body) {
        const bucket = deployment.ref(ids.privateBucket);
        await writerS3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { bucket, key, size: head.ContentLength ?? Buffer.byteLength(body), eTag: head.ETag ?? '', ...(head.VersionId ? { versionId: head.VersionId } : {}) };
      },
      async deleteAsKeyWriter(key) {
        await writerS3.send(new DeleteObjectCommand({ Bucket: deployment.ref(ids.privateBucket), Key: key }));
      },
      async readObject(bucket, key) {
        try {
          const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          return { body: (await out.Body?.transformToString('utf8')) ?? '', etag: out.ETag ?? '', contentType: out.ContentType, cacheControl: out.CacheControl };
        } catch (err) {
          if (err instanceof S3ServiceException && err.name === 'NoSuchKey') return undefined;
          throw err;
        }
      },
      judgeCalls(calls) {
        // Session keys handed out by STS to web identities (pods) name their role too.
        for (const call of proxy.calls) {
          const roleArn = new URLSearchParams(call.body.toString('utf8')).get('RoleArn');
          const accessKey = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(call.stsResponse ?? '')?.[1];
          const role = roleArn ? deployment.roleByArn(roleArn) : undefined;
          if (accessKey && role) sessions.set(accessKey, role);
        }
        return calls.map((call) => judge(deployment, sessions, call));
      },
      async close() {
        for (const step of cleanup.reverse()) await step().catch(() => undefined);
      },
    };
    return stage;
  } catch (err) {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    throw err;
  }
}

function judge(deployment: Deployment, sessions: ReadonlyMap<string, string>, call: ProxiedCall): CallJudgement {
  const site = deployment.pseudo;
  const iamCall = iamCallOf(call, site);
  const base = { seq: call.seq, action: iamCall.action, resource: iamCall.resource };
  if (iamCall.kind === 'always-allowed') return { ...base, principal: sessions.get(call.accessKeyId ?? '') ?? 'unknown', decision: 'allow', note: 'needs no permission' };
  if (iamCall.kind === 'trust-policy') {
    const roleLogicalId = deployment.roleByArn(iamCall.resource);
    if (!roleLogicalId) return { ...base, principal: 'web identity', decision: 'implicit-deny', note: 'the role is not one of the stack' };
    const form = new URLSearchParams(call.body.toString('utf8'));
    const claims = decodeJwt(form.get('WebIdentityToken') ?? '');
    const hostPath = String(claims.iss ?? '').replace(/^https:\/\//, '');
    const providerId = Object.keys(deployment.stack.resources).find((id) => deployment.stack.resources[id].Type === 'AWS::IAM::OIDCProvider');
    const providerArn = providerId ? deployment.ref(providerId) : '';
    const providerUrl = providerId ? String(deployment.resolvedProperties(providerId).Url) : '';
    if (providerUrl.replace(/^https:\/\//, '') !== hostPath) return { ...base, principal: 'web identity', decision: 'implicit-deny', note: `no IAM OIDC provider for issuer ${String(claims.iss)}` };
    const audiences = Array.isArray(claims.aud) ? claims.aud.map(String) : [String(claims.aud)];
    const decision = evaluate({ identity: [], resource: [deployment.trustPolicy(roleLogicalId)] }, {
      principal: { type: 'Federated', id: providerArn },
      action: iamCall.action,
      resource: iamCall.resource,
      context: { [`${hostPath}:sub`]: String(claims.sub ?? ''), [`${hostPath}:aud`]: audiences },
    });
    return { ...base, principal: `web identity ${String(claims.sub)}`, ...decision };
  }
  const roleLogicalId = sessions.get(call.accessKeyId ?? '');
  if (!roleLogicalId) return { ...base, principal: `access key ${call.accessKeyId ?? 'none'}`, decision: 'not-checked', note: 'the caller is not a role of the stack' };
  const roleArn = String(deployment.resolver.resolve({ 'Fn::GetAtt': [roleLogicalId, 'Arn'] }));
  const bucket = /^arn:aws:s3:::([^/]+)/.exec(iamCall.resource)?.[1];
  const bucketPolicy: PolicyDocument | undefined = bucket ? deployment.bucketPolicy(bucket) : undefined;
  const decision = evaluate(
    { identity: deployment.identityPolicies(roleLogicalId), resource: bucketPolicy ? [bucketPolicy] : [] },
    { principal: { type: 'AWS', id: roleArn }, action: iamCall.action, resource: iamCall.resource, context: { ...iamCall.context, 'aws:PrincipalArn': roleArn } },
  );
  const managed = deployment.managedPolicyArns(roleLogicalId);
  return { ...base, principal: roleLogicalId, ...decision, ...(decision.decision === 'implicit-deny' && managed.length > 0 ? { note: `managed policies not evaluated: ${managed.join(', ')}` } : {}) };
}

/** A bucket created outside the stack (the data a service-account role reads). */
export async function createOutsideBucket(moto: Moto, bucket: string, key: string, body: string): Promise<void> {
  const s3 = new S3Client(moto.clientConfig);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}
