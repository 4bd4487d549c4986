/**
 * "Deploys" a synthesized stack into moto: creates what the template declares, from the
 * template's own properties (intrinsics resolved to what moto returned), as far as moto
 * supports it, and records what it stubbed or left out and why. The result answers the
 * questions a test asks of a deployment: a Lambda's asset folder, resolved environment, role and
 * policies; a bucket's policy; a role's trust policy.
 */
import { randomUUID } from 'node:crypto';
import {
  CloudFrontClient,
  CreateDistributionCommand,
  CreateOriginAccessControlCommand,
} from '@aws-sdk/client-cloudfront';
import type { DistributionConfig, Origin } from '@aws-sdk/client-cloudfront';
import { AttachRolePolicyCommand, CreateOpenIDConnectProviderCommand, CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { Moto } from '../moto';
import type { PolicyDocument } from './iam';
import { IntrinsicResolver, Json, PseudoParameters, StackOutputLookup, SynthesizedTemplate, TemplateResource, lambdaAssetFolder } from './template';

/** moto's default account. */
export const MOTO_ACCOUNT = '123456789012';

/** Why a resource type is not created in moto. */
const NOT_CREATED: Readonly<Record<string, string>> = {
  'AWS::CloudFront::CachePolicy': 'stubbed: moto has no cache policies; the id is made up and the TTLs are documented, not emulated',
  'AWS::CloudFront::ResponseHeadersPolicy': 'stubbed: moto has no response headers policies; the document server adds the headers this policy declares',
  'AWS::Lambda::Function': 'stubbed: moto runs Lambdas only in Docker; the bundled asset runs under Node of the Lambda runtime\'s major instead',
  'AWS::Logs::LogGroup': 'stubbed (name and ARN only): the handlers write logs to stdout, which the rehearsal captures',
  'AWS::Events::Rule': 'stubbed (ARN only): the rehearsal sends the scheduled event itself',
  'AWS::KMS::Key': 'stubbed (id and ARN only): SNS encrypts with it on the publisher\'s behalf, which moto does not emulate (the Lambdas make no KMS call); its policy is checked by test/infra/alarms.test.ts',
  'Custom::S3BucketNotifications': 'not created: the rehearsal delivers the S3 event itself, after checking this resource\'s filter matches the upload',
  'Custom::AWSCDKCfnJson': 'resolved locally: its Value is the JSON of its resolved property, as the custom resource returns it',
  'Custom::Trigger': 'not created: the deploy-time run is replaced by the rehearsal\'s own invocations',
  'AWS::SNS::TopicPolicy': 'not created: only the template\'s alarms publish under it; the sync publishes with its role policy',
  'AWS::Lambda::Permission': 'not created: invocations are made directly',
  'AWS::Lambda::Version': 'not created: invocations are made directly',
  'AWS::ApiGatewayV2::Api': 'not created: the handler is invoked with API Gateway HTTP API v2 events for each route the template declares',
  'AWS::ApiGatewayV2::Integration': 'not created: payload format version is checked from the template',
  'AWS::ApiGatewayV2::Route': 'not created: each route key becomes an event',
  'AWS::ApiGatewayV2::Stage': 'not created: throttling is API Gateway\'s own',
  'AWS::CloudWatch::Alarm': 'not created: the metrics alarms watch are compared with the handlers\' EMF output instead',
  'AWS::Logs::DeliverySource': 'not created: CloudFront access logs are not rehearsed',
  'AWS::Logs::DeliveryDestination': 'not created: CloudFront access logs are not rehearsed',
  'AWS::Logs::Delivery': 'not created: CloudFront access logs are not rehearsed',
};

/** A Lambda function of the stack, ready to be run by the invoke harness. */
export interface FunctionSpec {
  readonly logicalId: string;
  readonly functionName: string;
  readonly assetFolder: string;
  /** `nodejs24.x`. */
  readonly runtime: string;
  readonly handler: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** The environment exactly as the template sets it, references resolved. */
  readonly environment: Readonly<Record<string, string>>;
  readonly roleLogicalId: string;
  readonly roleArn: string;
}

/** Short-lived credentials of a role session. */
export interface SessionCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

/** The stack as created in moto. */
export interface Deployment {
  readonly stack: SynthesizedTemplate;
  readonly resolver: IntrinsicResolver;
  readonly pseudo: PseudoParameters;
  /** What happened to each resource: `created`, or why it was stubbed or left out. */
  readonly outcome: Readonly<Record<string, string>>;
  /** Physical name or id by logical id. */
  ref(logicalId: string): string;
  /** A Lambda function, by its logical id. */
  functionSpec(logicalId: string): FunctionSpec;
  /** Identity policies (inline and AWS::IAM::Policy) attached to a role, resolved. */
  identityPolicies(roleLogicalId: string): PolicyDocument[];
  /** Managed policy ARNs attached to a role (not evaluable: their text is AWS's). */
  managedPolicyArns(roleLogicalId: string): string[];
  /** A role's trust policy, resolved (CfnJson conditions included). */
  trustPolicy(roleLogicalId: string): PolicyDocument;
  /** The bucket policy of a bucket, by bucket name (`undefined`: none). */
  bucketPolicy(bucketName: string): PolicyDocument | undefined;
  /** The role (logical id) whose ARN this is. */
  roleByArn(arn: string): string | undefined;
  /** Credentials of a new session of a role, from moto's STS (as Lambda gets its role's). */
  assumeRole(roleLogicalId: string, sessionName: string): Promise<SessionCredentials>;
  /** A resource's resolved properties. */
  resolvedProperties(logicalId: string): Json;
  /** A template output's value, resolved (what another stack's `Fn::GetStackOutput` reads). */
  output(outputName: string): string;
}

/** Options of {@link deployToMoto}. */
export interface DeployOptions {
  /** Outputs of stacks deployed before this one, for its cross-stack references. */
  readonly stackOutputs?: StackOutputLookup;
}

/** Creates the stack's resources in moto. */
export async function deployToMoto(stack: SynthesizedTemplate, moto: Moto, options: DeployOptions = {}): Promise<Deployment> {
  const pseudo: PseudoParameters = { accountId: MOTO_ACCOUNT, region: moto.clientConfig.region, partition: 'aws' };
  const resolver = new IntrinsicResolver(stack, pseudo, options.stackOutputs);
  const config = moto.clientConfig;
  const s3 = new S3Client(config);
  const cloudFront = new CloudFrontClient(config);
  const iam = new IAMClient(config);
  const sns = new SNSClient(config);
  const sts = new STSClient(config);
  const outcome: Record<string, string> = {};
  const suffix = () => randomUUID().replace(/-/g, '').slice(0, 12).toUpperCase();
  const physicalName = (logicalId: string, max: number) => `${stack.stackName}-${logicalId}`.slice(0, max - 13) + `-${suffix()}`;
  const ofType = (type: string) => Object.entries(stack.resources).filter(([, resource]) => resource.Type === type);
  const props = (resource: TemplateResource) => resource.Properties ?? {};
  const roleArns = new Map<string, string>();

  for (const [id] of ofType('AWS::KMS::Key')) {
    const keyId = randomUUID();
    resolver.register(id, { ref: keyId, attributes: { Arn: `arn:aws:kms:${pseudo.region}:${MOTO_ACCOUNT}:key/${keyId}`, KeyId: keyId } });
    outcome[id] = NOT_CREATED['AWS::KMS::Key'];
  }

  for (const [id, resource] of ofType('AWS::SNS::Topic')) {
    const name = String(props(resource).TopicName ?? physicalName(id, 256));
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
    resolver.register(id, { ref: TopicArn!, attributes: { TopicArn: TopicArn!, TopicName: name } });
    outcome[id] = 'created';
  }

  for (const [id, resource] of ofType('AWS::S3::Bucket')) {
    const name = String(props(resource).BucketName ?? physicalName(id, 63).toLowerCase());
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    const versioning = props(resource).VersioningConfiguration as { Status?: string } | undefined;
    if (versioning?.Status === 'Enabled') await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
    resolver.register(id, {
      ref: name,
      attributes: {
        Arn: `arn:aws:s3:::${name}`,
        DomainName: `${name}.s3.amazonaws.com`,
        RegionalDomainName: `${name}.s3.${pseudo.region}.amazonaws.com`,
      },
    });
    outcome[id] = 'created (name, versioning; encryption, public access block and logging settings are not enforced by moto)';
  }

  for (const [id] of ofType('AWS::Lambda::Function')) {
    const name = physicalName(id, 64);
    resolver.register(id, { ref: name, attributes: { Arn: `arn:aws:lambda:${pseudo.region}:${pseudo.accountId}:function:${name}` } });
    outcome[id] = NOT_CREATED['AWS::Lambda::Function'];
  }
  for (const [id, resource] of ofType('AWS::Logs::LogGroup')) {
    const name = String(props(resource).LogGroupName ?? physicalName(id, 512));
    resolver.register(id, { ref: name, attributes: { Arn: `arn:aws:logs:${pseudo.region}:${pseudo.accountId}:log-group:${name}:*` } });
    outcome[id] = NOT_CREATED['AWS::Logs::LogGroup'];
  }
  for (const [id] of ofType('AWS::Events::Rule')) {
    const name = physicalName(id, 64);
    resolver.register(id, { ref: name, attributes: { Arn: `arn:aws:events:${pseudo.region}:${pseudo.accountId}:rule/${name}` } });
    outcome[id] = NOT_CREATED['AWS::Events::Rule'];
  }

  for (const [id, resource] of ofType('AWS::CloudFront::OriginAccessControl')) {
    const oac = resolver.resolve(props(resource).OriginAccessControlConfig) as Json;
    const created = await cloudFront.send(new CreateOriginAccessControlCommand({
      OriginAccessControlConfig: {
        Name: String(oac.Name),
        Description: oac.Description as string | undefined,
        SigningProtocol: oac.SigningProtocol as 'sigv4',
        SigningBehavior: oac.SigningBehavior as 'always',
        OriginAccessControlOriginType: oac.OriginAccessControlOriginType as 's3',
      },
    }));
    const oacId = created.OriginAccessControl!.Id!;
    resolver.register(id, { ref: oacId, attributes: { Id: oacId } });
    outcome[id] = 'created';
  }
  for (const type of ['AWS::CloudFront::CachePolicy', 'AWS::CloudFront::ResponseHeadersPolicy']) {
    for (const [id] of ofType(type)) {
      const stubId = randomUUID();
      resolver.register(id, { ref: stubId, attributes: { Id: stubId } });
      outcome[id] = NOT_CREATED[type];
    }
  }

  for (const [id, resource] of ofType('AWS::CloudFront::Distribution')) {
    const cfn = resolver.resolve(props(resource).DistributionConfig) as Json;
    const created = await cloudFront.send(new CreateDistributionCommand({ DistributionConfig: distributionConfigFromCfn(cfn) }));
    const distribution = created.Distribution!;
    resolver.register(id, { ref: distribution.Id!, attributes: { Id: distribution.Id!, DomainName: distribution.DomainName! } });
    outcome[id] = 'created (origins, OAC id, behaviour; cache and response headers policy ids are stubs)';
  }

  for (const [id, resource] of ofType('AWS::IAM::OIDCProvider')) {
    const p = props(resource);
    const created = await iam.send(new CreateOpenIDConnectProviderCommand({
      Url: resolver.resolveString(p.Url),
      ClientIDList: (resolver.resolve(p.ClientIdList ?? []) as string[]),
      ThumbprintList: (resolver.resolve(p.ThumbprintList ?? []) as string[]),
    }));
    const arn = created.OpenIDConnectProviderArn!;
    resolver.register(id, { ref: arn, attributes: { Arn: arn } });
    outcome[id] = 'created (moto does not fetch the issuer\'s documents)';
  }

  for (const [id, resource] of ofType('Custom::AWSCDKCfnJson')) {
    const value = resolver.resolveString(props(resource).Value);
    resolver.register(id, { ref: id, attributes: { Value: JSON.parse(value) } });
    outcome[id] = NOT_CREATED['Custom::AWSCDKCfnJson'];
  }

  const managed = new Map<string, string[]>();
  for (const [id, resource] of ofType('AWS::IAM::Role')) {
    const p = props(resource);
    const name = String(p.RoleName ?? physicalName(id, 64));
    const trust = resolver.resolve(p.AssumeRolePolicyDocument);
    const created = await iam.send(new CreateRoleCommand({
      RoleName: name,
      AssumeRolePolicyDocument: JSON.stringify(trust),
      Description: p.Description as string | undefined,
      ...(p.MaxSessionDuration !== undefined ? { MaxSessionDuration: Number(p.MaxSessionDuration) } : {}),
    }));
    const arn = created.Role!.Arn!;
    roleArns.set(id, arn);
    resolver.register(id, { ref: name, attributes: { Arn: arn, RoleId: created.Role!.RoleId! } });
    for (const policy of (p.Policies ?? []) as { PolicyName: string; PolicyDocument: unknown }[]) {
      await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: policy.PolicyName, PolicyDocument: JSON.stringify(resolver.resolve(policy.PolicyDocument)) }));
    }
    const managedArns = (resolver.resolve(p.ManagedPolicyArns ?? []) as string[]);
    managed.set(id, managedArns);
    // moto_server does not hold AWS managed policies (their text is AWS's): they are only listed.
    for (const policyArn of managedArns.filter((arn) => !/^arn:aws[a-z-]*:iam::aws:policy\//.test(arn))) {
      await iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: policyArn }));
    }
    outcome[id] = `created (trust policy, inline policies${managedArns.length > 0 ? `; AWS managed policies listed, not attached: ${managedArns.join(', ')}` : ''}; moto does not enforce them)`;
  }

  const attachedPolicies = new Map<string, PolicyDocument[]>();
  for (const [id, resource] of ofType('AWS::IAM::Policy')) {
    const p = props(resource);
    const document = resolver.resolve(p.PolicyDocument) as PolicyDocument;
    for (const roleRef of (p.Roles ?? []) as unknown[]) {
      const roleLogicalId = (roleRef as { Ref?: string }).Ref;
      if (!roleLogicalId) throw new Error(`${id}: a role is not referenced by Ref`);
      await iam.send(new PutRolePolicyCommand({ RoleName: resolver.ref(roleLogicalId), PolicyName: String(p.PolicyName), PolicyDocument: JSON.stringify(document) }));
      attachedPolicies.set(roleLogicalId, [...(attachedPolicies.get(roleLogicalId) ?? []), document]);
    }
    resolver.register(id, { ref: String(p.PolicyName), attributes: {} });
    outcome[id] = 'created';
  }

  // Bucket policies name the sync's role, so they come after the roles.
  const bucketPolicies = new Map<string, PolicyDocument>();
  for (const [id, resource] of ofType('AWS::S3::BucketPolicy')) {
    const bucket = resolver.resolveString(props(resource).Bucket);
    const document = resolver.resolve(props(resource).PolicyDocument) as PolicyDocument;
    // Not given to moto: moto applies a bucket policy's Deny statements without the request's
    // context (aws:SecureTransport, aws:PrincipalArn are unknown to it), which refuses every call.
    // The rehearsal's IAM check evaluates the policy with that context instead.
    bucketPolicies.set(bucket, document);
    resolver.register(id, { ref: bucket, attributes: {} });
    outcome[id] = 'kept out of moto (it would evaluate the Deny statements without request context); evaluated by the rehearsal\'s IAM check';
  }

  for (const [id, resource] of Object.entries(stack.resources)) {
    if (!(id in outcome)) outcome[id] = NOT_CREATED[resource.Type] ?? `not created: ${resource.Type} is not part of the rehearsal`;
  }

  const resource = (logicalId: string): TemplateResource => {
    const found = stack.resources[logicalId];
    if (!found) throw new Error(`${logicalId} is not in the template`);
    return found;
  };

  return {
    stack,
    resolver,
    pseudo,
    outcome,
    ref: (logicalId) => resolver.ref(logicalId),
    functionSpec(logicalId) {
      const p = props(resource(logicalId));
      const roleArn = resolver.resolveString(p.Role);
      const roleLogicalId = [...roleArns.entries()].find(([, arn]) => arn === roleArn)?.[0];
      if (!roleLogicalId) throw new Error(`${logicalId}: its role ${roleArn} is not a role of the stack`);
      const variables = ((p.Environment as { Variables?: Json } | undefined)?.Variables ?? {});
      const environment: Record<string, string> = {};
      for (const [name, value] of Object.entries(variables)) environment[name] = resolver.resolveString(value);
      return {
        logicalId,
        functionName: resolver.ref(logicalId),
        assetFolder: lambdaAssetFolder(stack, logicalId),
        runtime: String(p.Runtime),
        handler: String(p.Handler),
        timeoutSeconds: Number(p.Timeout ?? 3),
        memorySize: Number(p.MemorySize ?? 128),
        environment,
        roleLogicalId,
        roleArn,
      };
    },
    identityPolicies(roleLogicalId) {
      const inline = ((props(resource(roleLogicalId)).Policies ?? []) as { PolicyDocument: unknown }[]).map((policy) => resolver.resolve(policy.PolicyDocument) as PolicyDocument);
      return [...inline, ...(attachedPolicies.get(roleLogicalId) ?? [])];
    },
    managedPolicyArns: (roleLogicalId) => [...(managed.get(roleLogicalId) ?? [])],
    trustPolicy: (roleLogicalId) => resolver.resolve(props(resource(roleLogicalId)).AssumeRolePolicyDocument) as PolicyDocument,
    bucketPolicy: (bucketName) => bucketPolicies.get(bucketName),
    roleByArn: (arn) => [...roleArns.entries()].find(([, roleArn]) => roleArn === arn)?.[0],
    async assumeRole(roleLogicalId, sessionName) {
      const roleArn = roleArns.get(roleLogicalId);
      if (!roleArn) throw new Error(`${roleLogicalId} is not a role of the stack`);
      const out = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName }));
      const credentials = out.Credentials!;
      return { accessKeyId: credentials.AccessKeyId!, secretAccessKey: credentials.SecretAccessKey!, sessionToken: credentials.SessionToken! };
    },
    resolvedProperties: (logicalId) => resolver.resolve(props(resource(logicalId))) as Json,
    output(outputName) {
      const found = stack.outputs?.[outputName];
      if (!found) throw new Error(`${stack.stackName} has no output ${outputName}`);
      return resolver.resolveString(found.Value);
    },
  };
}

/** CloudFormation's DistributionConfig (plain lists) in the CloudFront API's shape (Quantity/Items). */
function distributionConfigFromCfn(cfn: Json): DistributionConfig {
  const items = <T>(values: T[] | undefined) => ({ Quantity: values?.length ?? 0, Items: values ?? [] });
  const behaviour = cfn.DefaultCacheBehavior as Json;
  const origins = (cfn.Origins as Json[]).map((origin): Origin => ({
    Id: String(origin.Id),
    DomainName: String(origin.DomainName),
    OriginPath: (origin.OriginPath as string | undefined) ?? '',
    OriginAccessControlId: origin.OriginAccessControlId as string | undefined,
    S3OriginConfig: origin.S3OriginConfig ? { OriginAccessIdentity: String((origin.S3OriginConfig as Json).OriginAccessIdentity ?? '') } : undefined,
    CustomHeaders: items([]),
  }));
  return {
    CallerReference: randomUUID(),
    Comment: String(cfn.Comment ?? ''),
    Enabled: Boolean(cfn.Enabled),
    HttpVersion: cfn.HttpVersion as DistributionConfig['HttpVersion'],
    IsIPV6Enabled: Boolean(cfn.IPV6Enabled),
    Aliases: items(cfn.Aliases as string[] | undefined),
    Origins: items(origins),
    DefaultCacheBehavior: {
      TargetOriginId: String(behaviour.TargetOriginId),
      ViewerProtocolPolicy: behaviour.ViewerProtocolPolicy as 'https-only',
      AllowedMethods: {
        ...items(behaviour.AllowedMethods as ('GET' | 'HEAD')[]),
        CachedMethods: items(behaviour.CachedMethods as ('GET' | 'HEAD')[]),
      },
      Compress: Boolean(behaviour.Compress),
      CachePolicyId: behaviour.CachePolicyId as string | undefined,
      ResponseHeadersPolicyId: behaviour.ResponseHeadersPolicyId as string | undefined,
    },
  };
}
