import { Stack, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { ROUTE_THROTTLE_KEYS, VERIFY_API_ROUTES, VerifyApi, type VerifyApiProps } from '../../lib/constructs/verify-api';
import type { ClusterOidcStack } from '../../lib/cluster-oidc-stack';
import { defaultDomainCluster, fullCluster, resourcesOf, synthCluster, testApp } from './support/synth';
import type { Json, SynthesizedCluster } from './support/synth';

const logicalId = (stack: ClusterOidcStack, construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });
const objectArn = (bucketId: string, key: string) => ({ 'Fn::Join': ['', [getAtt(bucketId, 'Arn'), `/${key}`]] });

function verifier(s: SynthesizedCluster) {
  const api = s.stack.verifyApi;
  if (!api) throw new Error('no Verify API');
  return api;
}

function routes(s: SynthesizedCluster): Json[] {
  return Object.values(resourcesOf(s.template, 'AWS::ApiGatewayV2::Route')).map((r) => r.Properties as Json);
}

let open: SynthesizedCluster;
let iamAuthorized: SynthesizedCluster;
beforeAll(() => {
  open = synthCluster(defaultDomainCluster());
  iamAuthorized = synthCluster(fullCluster());
});

describe('VerifyApi routes', () => {
  test('with iamAuth, synth warns that forward-auth proxies cannot use /auth', () => {
    const warnings = Annotations.fromStack(iamAuthorized.stack).findWarning('*', Match.stringLikeRegexp('cannot sign SigV4 requests'));
    expect(warnings).toHaveLength(1);
    expect(Annotations.fromStack(open.stack).findWarning('*', Match.stringLikeRegexp('cannot sign SigV4 requests'))).toHaveLength(0);
  });

  test('TokenReview, /verify, forward-auth and $default (so unknown paths reach the JSON 404), all to the handler', () => {
    expect(routes(open).map((r) => r.RouteKey).sort()).toEqual([
      '$default',
      'ANY /auth',
      'ANY /auth/{proxy+}',
      'POST /apis/authentication.k8s.io/v1/tokenreviews',
      'POST /verify',
    ]);
    const targets = new Set(routes(open).map((r) => JSON.stringify(r.Target)));
    expect(targets.size).toBe(1);
    expect(VERIFY_API_ROUTES.map((r) => r.path)).toEqual(['/apis/authentication.k8s.io/v1/tokenreviews', '/verify', '/auth', '/auth/{proxy+}']);
  });

  test('a Lambda proxy integration with payload format 2.0', () => {
    open.template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: getAtt(logicalId(open.stack, verifier(open).function), 'Arn'),
    });
  });

  test('an HTTP API without CORS', () => {
    const apis = Object.values(resourcesOf(open.template, 'AWS::ApiGatewayV2::Api'));
    expect(apis).toHaveLength(1);
    expect(apis[0].Properties).toMatchObject({ ProtocolType: 'HTTP' });
    expect((apis[0].Properties as Json).CorsConfiguration).toBeUndefined();
  });

  test('no authorizer by default; with iamAuth every route, $default included, needs SigV4', () => {
    expect(routes(open).every((r) => r.AuthorizationType === undefined || r.AuthorizationType === 'NONE')).toBe(true);
    expect(routes(iamAuthorized).map((r) => r.AuthorizationType)).toEqual(Array(5).fill('AWS_IAM'));
  });
});

describe('VerifyApi stage', () => {
  test('the $default stage auto-deploys with the configured throttling', () => {
    iamAuthorized.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingBurstLimit: 40, ThrottlingRateLimit: 25 },
    });
    open.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingBurstLimit: 100, ThrottlingRateLimit: 50 } });
  });

  test('access logs go to a log group, as JSON without headers or bodies (the token travels there)', () => {
    const api = verifier(open);
    const stage = Object.values(resourcesOf(open.template, 'AWS::ApiGatewayV2::Stage'))[0].Properties as Json;
    const settings = stage.AccessLogSettings as { DestinationArn: unknown; Format: string };
    expect(settings.DestinationArn).toEqual(getAtt(logicalId(open.stack, api.accessLogs), 'Arn'));
    const format = JSON.parse(settings.Format) as Record<string, string>;
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status', routeKey: '$context.routeKey', caller: '$context.identity.userArn' });
    expect(settings.Format).not.toMatch(/header|body|authorization|requestOverride/i);
  });

  test('the API URL is a stack output', () => {
    const outputs = open.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.VerifyApiUrl.Value).toEqual(open.stack.resolve(verifier(open).url));
    expect(JSON.stringify(outputs.VerifyApiUrl.Value)).toContain(logicalId(open.stack, verifier(open).api));
  });
});

describe('VerifyApi function', () => {
  test('read-only: s3:GetObject on exactly the JWKS object and the deny-list object', () => {
    const { stack, template } = iamAuthorized;
    const api = verifier(iamAuthorized);
    const policy = Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
      .find((p) => JSON.stringify((p.Properties as Json).Roles) === JSON.stringify([{ Ref: logicalId(stack, api.role) }]));
    const statements = ((policy!.Properties as Json).PolicyDocument as { Statement: Json[] }).Statement;
    expect(statements).toEqual([
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: expect.objectContaining({ 'Fn::GetAtt': expect.any(Array) }) },
      {
        Sid: 'ReadTheJwksAndTheDenyList',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: [
          objectArn(logicalId(stack, stack.issuerSite.documentsBucket), 'cluster-a/openid/v1/jwks'),
          objectArn(logicalId(stack, stack.issuerSite.privateBucket), 'control/deny-list.json'),
        ],
      },
    ]);
  });

  test('the environment carries exactly the documented variables', () => {
    const { stack, template } = iamAuthorized;
    const api = verifier(iamAuthorized);
    const fn = resourcesOf(template, 'AWS::Lambda::Function')[logicalId(stack, api.function)].Properties as Json;
    expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Timeout: 10 });
    expect((fn.Environment as Json).Variables).toEqual({
      ISSUER_URL: 'https://oidc.example.com/cluster-a',
      DOCUMENTS_BUCKET: { Ref: logicalId(stack, stack.issuerSite.documentsBucket) },
      JWKS_KEY: 'cluster-a/openid/v1/jwks',
      PRIVATE_BUCKET: { Ref: logicalId(stack, stack.issuerSite.privateBucket) },
      DENY_LIST_KEY: 'control/deny-list.json',
      CLUSTER_NAME: 'prod',
      ALLOWED_AUDIENCES: '["verify.prod.example.com","billing.prod.example.com"]',
      DEFAULT_AUDIENCES: '["verify.prod.example.com"]',
      CLOCK_SKEW_SECONDS: '60',
      MAX_TOKEN_LIFETIME_SECONDS: '86400',
      MAX_TOKEN_BYTES: '16384',
      KIDLESS_COMPAT: 'true',
      KEYS_TTL_SECONDS: '60',
      UNKNOWN_KID_COOLDOWN_SECONDS: '30',
      STALE_WINDOW_SECONDS: '900',
      METRICS_NAMESPACE: 'KubeOidc/prod',
      CALLER_AUDIENCES: '{"arn:aws:iam::123456789012:role/Billing":["billing.prod.example.com"]}',
    });
  });

  test('defaults: every audience is a default audience, no lifetime limit, no caller bindings', () => {
    const { stack, template } = open;
    const fn = resourcesOf(template, 'AWS::Lambda::Function')[logicalId(stack, verifier(open).function)].Properties as Json;
    const variables = (fn.Environment as Json).Variables as Json;
    expect(variables).toMatchObject({ ALLOWED_AUDIENCES: '["verify.dev.example.com"]', DEFAULT_AUDIENCES: '["verify.dev.example.com"]', KIDLESS_COMPAT: 'false' });
    expect(variables.MAX_TOKEN_LIFETIME_SECONDS).toBeUndefined();
    expect(variables.CALLER_AUDIENCES).toBeUndefined();
  });
});

test('a disabled Verify API creates no API, function or output', () => {
  const disabled = defaultDomainCluster();
  disabled.verifyApi = { enabled: false };
  const { stack, template } = synthCluster(disabled);
  expect(stack.verifyApi).toBeUndefined();
  template.resourceCountIs('AWS::ApiGatewayV2::Api', 0);
  expect(Object.keys(template.toJSON().Outputs as Json)).not.toContain('VerifyApiUrl');
});

describe('VerifyApi route throttles (issue 12 §5)', () => {
  function standalone(extra: Partial<VerifyApiProps>): Template {
    const stack = new Stack(testApp(), 'Throttles', { env: { account: '123456789012', region: 'eu-west-1' } });
    const documentsBucket = new s3.Bucket(stack, 'Docs');
    const privateBucket = new s3.Bucket(stack, 'Private');
    new VerifyApi(stack, 'Verify', { issuerUrl: 'https://oidc.example.com/c1', documentsBucket, jwksKey: 'c1/openid/v1/jwks', privateBucket, policy: { audiences: ['a'] }, ...extra });
    return Template.fromStack(stack);
  }
  const stageOf = (template: Template) => Object.values(resourcesOf(template, 'AWS::ApiGatewayV2::Stage'))[0] as Json & { Properties: Json; DependsOn?: string[] };

  test('by default /verify, TokenReview and /auth each get a limit of their own, with the stage values', () => {
    const stage = stageOf(open.template).Properties;
    const own = { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 };
    expect(stage.RouteSettings).toEqual({
      'POST /verify': own,
      'POST /apis/authentication.k8s.io/v1/tokenreviews': own,
      'ANY /auth': own,
      'ANY /auth/{proxy+}': own,
    });
    // The route keys named are exactly the routes that exist, which the stage waits for.
    expect(Object.keys(stage.RouteSettings as Json).sort()).toEqual(routes(open).map((r) => r.RouteKey as string).filter((key) => key !== '$default').sort());
    expect(Object.values(ROUTE_THROTTLE_KEYS).flat().sort()).toEqual(Object.keys(stage.RouteSettings as Json).sort());
  });

  test('the construct takes per-route limits, a left-out route falling back to the stage throttle', () => {
    const template = standalone({ throttle: { rateLimit: 20, burstLimit: 30 }, routeThrottles: { auth: { rateLimit: 200, burstLimit: 400 }, verify: { rateLimit: 5 } } });
    const stage = stageOf(template);
    expect(stage.Properties.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 20, ThrottlingBurstLimit: 30 });
    expect(stage.Properties.RouteSettings).toEqual({
      'POST /verify': { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 30 },
      'POST /apis/authentication.k8s.io/v1/tokenreviews': { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 30 },
      'ANY /auth': { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 },
      'ANY /auth/{proxy+}': { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 },
    });
    const routeIds = Object.keys(resourcesOf(template, 'AWS::ApiGatewayV2::Route'));
    expect(routeIds).toHaveLength(5);
    // Every named route is created before the stage refers to its key ($default needs no setting).
    expect(stage.DependsOn).toEqual(expect.arrayContaining(routeIds.filter((id) => (resourcesOf(template, 'AWS::ApiGatewayV2::Route')[id].Properties as Json).RouteKey !== '$default')));
  });

  test('refuses a negative or fractional-burst limit with the route named', () => {
    expect(() => standalone({ routeThrottles: { tokenReview: { rateLimit: -1 } } })).toThrow(/routeThrottles\.tokenReview/);
    expect(() => standalone({ routeThrottles: { auth: { burstLimit: 1.5 } } })).toThrow(/routeThrottles\.auth/);
  });
});
