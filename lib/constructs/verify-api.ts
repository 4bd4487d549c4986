import { Duration, Annotations, Stack, Token } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as authorizers from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { acknowledgeNag } from '../private/nag';
import { ProjectFunction } from '../private/node-function';
import { PRIVATE_BUCKET_LAYOUT } from './issuer-site';

/** The routes of the Verify API; any other path reaches the handler's JSON 404 via `$default`. */
export const VERIFY_API_ROUTES = [
  { path: '/apis/authentication.k8s.io/v1/tokenreviews', methods: [apigwv2.HttpMethod.POST] },
  { path: '/verify', methods: [apigwv2.HttpMethod.POST] },
  { path: '/auth', methods: [apigwv2.HttpMethod.ANY] },
  { path: '/auth/{proxy+}', methods: [apigwv2.HttpMethod.ANY] },
] as const;

/** Route limits of {@link VerifyApiProps.routeThrottles}: rate in requests per second, burst in requests. */
export interface RouteThrottles {
  /** `POST /verify`. @default - the stage `throttle` */
  readonly verify?: apigwv2.ThrottleSettings;
  /** `POST /apis/authentication.k8s.io/v1/tokenreviews`. @default - the stage `throttle` */
  readonly tokenReview?: apigwv2.ThrottleSettings;
  /** `ANY /auth` and `ANY /auth/{proxy+}` (each route key its own limit). @default - the stage `throttle` */
  readonly auth?: apigwv2.ThrottleSettings;
}

/** The route keys each {@link RouteThrottles} member limits. */
export const ROUTE_THROTTLE_KEYS: Readonly<Record<keyof RouteThrottles, readonly string[]>> = {
  verify: ['POST /verify'],
  tokenReview: ['POST /apis/authentication.k8s.io/v1/tokenreviews'],
  auth: ['ANY /auth', 'ANY /auth/{proxy+}'],
};

/** Verification policy passed to the handler. */
export interface VerifyPolicy {
  /** Audiences callers may ask about. */
  readonly audiences: readonly string[];
  /**
   * Audiences used when a request names none.
   * @default - all of `audiences`
   */
  readonly defaultAudiences?: readonly string[];
  /**
   * Per caller (IAM role or user ARN), the audiences it may ask about; needs `iamAuth`.
   * @default - every caller may ask about every audience
   */
  readonly callerAudiences?: Readonly<Record<string, readonly string[]>>;
  /** @default Duration.seconds(60) */
  readonly clockSkew?: Duration;
  /**
   * Refuse tokens whose `exp - iat` is longer (for example kube's one-year extended tokens).
   * @default - no limit
   */
  readonly maxTokenLifetime?: Duration;
  /** @default 16384 */
  readonly maxTokenBytes?: number;
  /**
   * Try kid-less tokens against every key of their algorithm.
   * @default false
   */
  readonly kidlessCompat?: boolean;
  /** How long the handler caches the key set. @default Duration.seconds(60) */
  readonly keysTtl?: Duration;
  /** At most one key refetch per this period on unknown kids. @default Duration.seconds(30) */
  readonly unknownKidCooldown?: Duration;
  /** How long a cached key set is served while the bucket is unreachable. @default Duration.minutes(15) */
  readonly staleWindow?: Duration;
}

/**
 * Where a trusted issuer's keys come from (exactly one source; docs/architecture.md,
 * `TRUSTED_ISSUERS`).
 */
export type TrustedIssuerKeySource =
  /** A cluster of this project in the verifier's account and region: its published JWKS object. */
  | { readonly kind: 'documentsBucket'; readonly bucket: s3.IBucket; readonly jwksKey: string }
  /** OIDC discovery over HTTPS at the issuer URL (any Kubernetes issuer, EKS included). */
  | { readonly kind: 'discovery'; readonly caBundlePem?: string }
  /** A JWKS URL given by hand (only when configured; never derived). */
  | { readonly kind: 'jwksUrl'; readonly url: string; readonly caBundlePem?: string };

/**
 * An issuer's own policy in a trusted-issuer list; members left out take the verifier's
 * {@link VerifyPolicy}.
 */
export interface TrustedIssuerPolicy {
  /** @default - the verifier's `audiences` */
  readonly audiences?: readonly string[];
  /** @default - this issuer's `audiences` when given, else the verifier's default audiences */
  readonly defaultAudiences?: readonly string[];
  readonly clockSkew?: Duration;
  readonly maxTokenLifetime?: Duration;
  readonly kidlessCompat?: boolean;
  readonly keysTtl?: Duration;
  readonly unknownKidCooldown?: Duration;
  readonly staleWindow?: Duration;
}

/** One issuer a fleet verifier trusts. */
export interface VerifyApiTrustedIssuer {
  /** The issuer, byte for byte as in its tokens' `iss` (may be a deploy-time token). */
  readonly issuer: string;
  /**
   * The configured cluster name, given in answers next to the issuer; unique in the list.
   * @default - answers name the issuer only
   */
  readonly cluster?: string;
  /** Where its keys come from. */
  readonly keys: TrustedIssuerKeySource;
  /**
   * Its deny list: a bucket of the verifier's region (another account's bucket must grant this
   * verifier's role `s3:GetObject` on the key; see docs/verify-api.md, "Fleet verifier").
   * @default - no deny list
   */
  readonly denyList?: { readonly bucket: s3.IBucket; readonly key?: string };
  /** @default - the verifier's policy */
  readonly policy?: TrustedIssuerPolicy;
}

/**
 * Properties of {@link VerifyApi}: the keys of one issuer (`issuerUrl`, `documentsBucket`,
 * `jwksKey`, `privateBucket`: a cluster's own Verify API), or a list of `trustedIssuers` (a fleet
 * verifier); never both.
 */
export interface VerifyApiProps {
  /** One issuer: the issuer URL (may be a deploy-time token). */
  readonly issuerUrl?: string;
  /** One issuer: the documents bucket and the key of its JWKS object, which the verifier reads. */
  readonly documentsBucket?: s3.IBucket;
  readonly jwksKey?: string;
  /** One issuer: the private bucket holding the deny list. */
  readonly privateBucket?: s3.IBucket;
  /**
   * One issuer: the cluster's configured name, given in answers next to the issuer (`CLUSTER_NAME`).
   * @default - answers name the issuer only
   */
  readonly clusterName?: string;
  /**
   * A fleet verifier: the issuers it trusts (`TRUSTED_ISSUERS`). A token's `iss` picks its
   * issuer byte for byte; any other issuer is refused with `unknown_issuer`.
   * @default - one issuer, from `issuerUrl` and the buckets
   */
  readonly trustedIssuers?: readonly VerifyApiTrustedIssuer[];
  /** The verifier's policy (a fleet's defaults for every issuer). */
  readonly policy: VerifyPolicy;
  /**
   * Physical name of the verifier's role, so that another account's bucket policy can name it
   * before it exists (a fleet reading cross-account deny lists).
   * @default - a name generated by CloudFormation
   */
  readonly roleName?: string;
  /**
   * Require SigV4 (IAM) authorization from callers on every route.
   * @default false
   */
  readonly iamAuth?: boolean;
  /**
   * Stage throttling.
   * @default - 50 requests per second, bursts of 100
   */
  readonly throttle?: apigwv2.ThrottleSettings;
  /**
   * Limits of their own for `/verify`, TokenReview and `/auth`, so that a flood on one route is
   * throttled on that route and cannot use up the others' budget (one stage-wide limit let one
   * client starve every proxy using `/auth`). A member left out gets the stage `throttle` values
   * as its own route limit; the `$default` route (unknown paths) keeps the stage limit. These are
   * limits per route, not per client: for per-client limits see the WAF rate-based rule in
   * docs/verify-api.md.
   * @default - every route: its own limit with the stage `throttle` values
   */
  readonly routeThrottles?: RouteThrottles;
  /**
   * CloudWatch namespace of the handler's EMF metrics (requests and latency by route and result).
   * @default 'KubeOidc'
   */
  readonly metricsNamespace?: string;
  /**
   * Topic for the handler's error alarm.
   * @default - no alarm
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * The token Verify API: a Lambda behind an HTTP API answering TokenReview, `/verify` and
 * forward-auth requests from the published JWKS and the deny list, with read-only access to
 * exactly those two objects. Given `trustedIssuers` instead, it is a fleet verifier: one key set,
 * policy and deny list per issuer, chosen by each token's `iss` (`TRUSTED_ISSUERS`), and its role
 * reads exactly the listed JWKS and deny-list objects.
 *
 * An HTTP API is the default because it is cheaper and faster than a REST API and has all this
 * needs (Lambda proxy, throttling, access logs, IAM authorization). A private endpoint or a WAF
 * web ACL needs a REST API: see docs/configuration.md.
 */
export class VerifyApi extends Construct {
  /** The verifier Lambda. */
  readonly function: lambda.Function;
  /** Its role: read-only on the JWKS and deny-list objects. */
  readonly role: iam.Role;
  /** The HTTP API. */
  readonly api: apigwv2.HttpApi;
  /** The `$default` stage, with throttling and access logs. */
  readonly stage: apigwv2.HttpStage;
  /** The access-log group. */
  readonly accessLogs: logs.LogGroup;
  /** The API's base URL (the `$default` stage). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: VerifyApiProps) {
    super(scope, id);
    const policy = props.policy;
    const source = issuerSource(this, props);
    const environment: Record<string, string> = {
      ...source.environment,
      ALLOWED_AUDIENCES: JSON.stringify(policy.audiences),
      DEFAULT_AUDIENCES: JSON.stringify(policy.defaultAudiences ?? policy.audiences),
      CLOCK_SKEW_SECONDS: String((policy.clockSkew ?? Duration.seconds(60)).toSeconds()),
      MAX_TOKEN_BYTES: String(policy.maxTokenBytes ?? 16384),
      KIDLESS_COMPAT: String(policy.kidlessCompat ?? false),
      KEYS_TTL_SECONDS: String((policy.keysTtl ?? Duration.seconds(60)).toSeconds()),
      UNKNOWN_KID_COOLDOWN_SECONDS: String((policy.unknownKidCooldown ?? Duration.seconds(30)).toSeconds()),
      STALE_WINDOW_SECONDS: String((policy.staleWindow ?? Duration.minutes(15)).toSeconds()),
      METRICS_NAMESPACE: props.metricsNamespace ?? 'KubeOidc',
      ...(policy.maxTokenLifetime ? { MAX_TOKEN_LIFETIME_SECONDS: String(policy.maxTokenLifetime.toSeconds()) } : {}),
      ...(policy.callerAudiences ? { CALLER_AUDIENCES: JSON.stringify(policy.callerAudiences) } : {}),
    };

    if (source.trustedIssuersText !== undefined) checkEnvironmentSize({ ...environment, TRUSTED_ISSUERS: source.trustedIssuersText });

    const fn = new ProjectFunction(this, 'Handler', {
      // One bundle per mode: a single-issuer verifier compiles no fleet code at its cold start.
      bundle: source.kind === 'fleet' ? 'fleet-verifier' : 'token-verifier',
      description: source.kind === 'fleet'
        ? 'Verifies Kubernetes service-account tokens of several trusted issuers'
        : 'Verifies Kubernetes service-account tokens against the published JWKS',
      environment,
      timeout: Duration.seconds(10),
      memorySize: 512,
      logRetention: logs.RetentionDays.THREE_MONTHS,
    });
    this.function = fn.function;
    this.role = fn.role;
    if (props.roleName !== undefined) (this.role.node.defaultChild as iam.CfnRole).roleName = props.roleName;
    if (source.objectArns.length > 0) {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: source.kind === 'fleet' ? 'ReadTheTrustedIssuersJwksAndDenyLists' : 'ReadTheJwksAndTheDenyList',
        actions: ['s3:GetObject'],
        resources: source.objectArns,
      }));
    }

    const integration = new integrations.HttpLambdaIntegration('Handler', this.function, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    });
    const authorizer = props.iamAuth ? new authorizers.HttpIamAuthorizer() : undefined;
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'Kubernetes service-account token verification (TokenReview compatible)',
      // $default sends unknown paths and methods to the handler, which answers JSON 404/405.
      defaultIntegration: integration,
      ...(authorizer ? { defaultAuthorizer: authorizer } : {}),
      createDefaultStage: false,
    });
    const routes: apigwv2.HttpRoute[] = [];
    for (const route of VERIFY_API_ROUTES) {
      routes.push(...this.api.addRoutes({ path: route.path, methods: [...route.methods], integration }));
    }

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.THREE_MONTHS });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttle?.rateLimit ?? 50, burstLimit: props.throttle?.burstLimit ?? 100 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        // Never headers or bodies: the token travels in them.
        format: apigateway.AccessLogFormat.custom(JSON.stringify({
          requestId: '$context.requestId',
          requestTime: '$context.requestTime',
          sourceIp: '$context.identity.sourceIp',
          caller: '$context.identity.userArn',
          method: '$context.httpMethod',
          routeKey: '$context.routeKey',
          path: '$context.path',
          status: '$context.status',
          latencyMs: '$context.responseLatency',
          integrationError: '$context.integrationErrorMessage',
        })),
      },
    });
    this.url = this.stage.url;

    const stageThrottle = { rateLimit: props.throttle?.rateLimit ?? 50, burstLimit: props.throttle?.burstLimit ?? 100 };
    const routeSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    for (const [name, routeKeys] of Object.entries(ROUTE_THROTTLE_KEYS) as [keyof RouteThrottles, readonly string[]][]) {
      const given = props.routeThrottles?.[name];
      const limit = { rateLimit: given?.rateLimit ?? stageThrottle.rateLimit, burstLimit: given?.burstLimit ?? stageThrottle.burstLimit };
      if (!(limit.rateLimit >= 0) || !(limit.burstLimit >= 0) || !Number.isInteger(limit.burstLimit)) {
        throw new Error(`VerifyApi routeThrottles.${name}: rateLimit must be a number >= 0 and burstLimit an integer >= 0 (got ${JSON.stringify(given)})`);
      }
      for (const routeKey of routeKeys) routeSettings[routeKey] = { ThrottlingRateLimit: limit.rateLimit, ThrottlingBurstLimit: limit.burstLimit };
    }
    const cfnStage = this.stage.node.defaultChild as apigwv2.CfnStage;
    cfnStage.routeSettings = routeSettings;
    // A route setting names a route key, which must exist before the stage refers to it.
    for (const route of routes) cfnStage.addResourceDependency(route.node.defaultChild as apigwv2.CfnRoute);

    if (props.iamAuth) {
      // Forward-auth proxies (nginx, Traefik, Envoy) cannot sign requests, and the token already fills Authorization.
      Annotations.of(this).addWarningV2('kube-oidc:verify-api-iam-auth-forward-auth',
        'verifyApi.iamAuth protects every route, /auth included: nginx auth_request, Traefik forwardAuth and Envoy ext_authz cannot sign SigV4 requests, so they cannot use /auth. Use POST /verify or the TokenReview route from SigV4 callers, or a separate cluster config without iamAuth for proxies.');
    }
    if (!props.iamAuth) {
      for (const child of this.api.node.findAll()) {
        if (child instanceof apigwv2.CfnRoute) {
          acknowledgeNag(child, 'AwsSolutions-APIG4',
            'Callers prove nothing but the token under review, which the handler verifies; set verifyApi.iamAuth to require SigV4 callers.');
        }
      }
    }

    if (props.alarmTopic) {
      const alarm = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
        alarmDescription: 'The token verifier Lambda failed (error or timeout): callers get 5xx.',
        metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
      alarm.addOkAction(new cwActions.SnsAction(props.alarmTopic));
    }
  }
}


/** What the handler is told about its issuers, and the objects its role may read. */
interface IssuerSource {
  readonly kind: 'single' | 'fleet';
  readonly environment: Record<string, string>;
  readonly objectArns: string[];
  /** The fleet's `TRUSTED_ISSUERS` before deploy-time values are turned into CloudFormation, for its size. */
  readonly trustedIssuersText?: string;
}

function issuerSource(scope: Construct, props: VerifyApiProps): IssuerSource {
  const single = [props.issuerUrl, props.documentsBucket, props.jwksKey, props.privateBucket];
  if (props.trustedIssuers === undefined) {
    const [issuerUrl, documentsBucket, jwksKey, privateBucket] = [props.issuerUrl, props.documentsBucket, props.jwksKey, props.privateBucket];
    if (issuerUrl === undefined || documentsBucket === undefined || jwksKey === undefined || privateBucket === undefined) {
      throw new Error('VerifyApi: give issuerUrl, documentsBucket, jwksKey and privateBucket (one issuer), or trustedIssuers (a fleet)');
    }
    const denyListKey = PRIVATE_BUCKET_LAYOUT.denyListKey;
    return {
      kind: 'single',
      environment: {
        ISSUER_URL: issuerUrl,
        DOCUMENTS_BUCKET: documentsBucket.bucketName,
        JWKS_KEY: jwksKey,
        PRIVATE_BUCKET: privateBucket.bucketName,
        DENY_LIST_KEY: denyListKey,
        ...(props.clusterName !== undefined ? { CLUSTER_NAME: props.clusterName } : {}),
      },
      objectArns: [documentsBucket.arnForObjects(jwksKey), privateBucket.arnForObjects(denyListKey)],
    };
  }
  if (single.some((value) => value !== undefined) || props.clusterName !== undefined) {
    throw new Error('VerifyApi: trustedIssuers replaces issuerUrl, documentsBucket, jwksKey, privateBucket and clusterName; give one or the other');
  }
  const issuers = props.trustedIssuers;
  if (issuers.length === 0) throw new Error('VerifyApi: trustedIssuers is empty; list at least one issuer');
  const seen = { issuers: new Set<string>(), clusters: new Set<string>() };
  const objectArns: string[] = [];
  const entries = issuers.map((trusted, index) => {
    const label = `VerifyApi trustedIssuers[${index}] (${trusted.cluster ?? trusted.issuer})`;
    if (!Token.isUnresolved(trusted.issuer)) {
      if (seen.issuers.has(trusted.issuer)) throw new Error(`${label}: issuer ${trusted.issuer} is listed twice; list each issuer once`);
      seen.issuers.add(trusted.issuer);
    }
    if (trusted.cluster !== undefined) {
      if (seen.clusters.has(trusted.cluster)) throw new Error(`${label}: cluster name ${trusted.cluster} is given twice; cluster names must be unique`);
      seen.clusters.add(trusted.cluster);
    }
    const keys = trusted.keys;
    const keyMembers = keys.kind === 'documentsBucket'
      ? { documentsBucket: keys.bucket.bucketName, jwksKey: keys.jwksKey }
      : keys.kind === 'discovery'
        ? { discovery: true, ...(keys.caBundlePem !== undefined ? { caBundle: keys.caBundlePem } : {}) }
        : { jwksUrl: keys.url, ...(keys.caBundlePem !== undefined ? { caBundle: keys.caBundlePem } : {}) };
    if (keys.kind === 'documentsBucket') objectArns.push(keys.bucket.arnForObjects(keys.jwksKey));
    const denyListKey = trusted.denyList?.key ?? PRIVATE_BUCKET_LAYOUT.denyListKey;
    if (trusted.denyList) objectArns.push(trusted.denyList.bucket.arnForObjects(denyListKey));
    const policy = trusted.policy ?? {};
    return {
      issuer: trusted.issuer,
      ...(trusted.cluster !== undefined ? { cluster: trusted.cluster } : {}),
      ...keyMembers,
      ...(trusted.denyList ? { privateBucket: trusted.denyList.bucket.bucketName, denyListKey } : {}),
      ...(policy.audiences ? { allowedAudiences: [...policy.audiences] } : {}),
      ...(policy.defaultAudiences ? { defaultAudiences: [...policy.defaultAudiences] } : {}),
      ...(policy.clockSkew ? { clockSkewSeconds: policy.clockSkew.toSeconds() } : {}),
      ...(policy.maxTokenLifetime ? { maxTokenLifetimeSeconds: policy.maxTokenLifetime.toSeconds() } : {}),
      ...(policy.kidlessCompat !== undefined ? { kidlessCompat: policy.kidlessCompat } : {}),
      ...(policy.keysTtl ? { keysTtlSeconds: policy.keysTtl.toSeconds() } : {}),
      ...(policy.unknownKidCooldown ? { unknownKidCooldownSeconds: policy.unknownKidCooldown.toSeconds() } : {}),
      ...(policy.staleWindow ? { staleWindowSeconds: policy.staleWindow.toSeconds() } : {}),
    };
  });
  // toJsonString keeps deploy-time values (bucket names, a default-domain issuer) valid JSON.
  return { kind: 'fleet', environment: { TRUSTED_ISSUERS: Stack.of(scope).toJsonString(entries) }, objectArns, trustedIssuersText: JSON.stringify(entries) };
}

/** Lambda's limit on the whole environment (names and values). */
const LAMBDA_ENVIRONMENT_LIMIT = 4096;

/**
 * Fails synth when the fleet's environment cannot fit Lambda's 4 KiB, counting each deploy-time
 * value (a bucket name, a CloudFront domain) at its longest, so that the deployment cannot fail on it.
 */
function checkEnvironmentSize(environment: Readonly<Record<string, string>>): void {
  const longest = (value: string) => value.replace(/\$\{Token\[[^\]]+\]\}/g, 'x'.repeat(63));
  const size = Object.entries(environment).reduce((sum, [name, value]) => sum + name.length + longest(value).length, 0);
  if (size > LAMBDA_ENVIRONMENT_LIMIT) {
    throw new Error(`VerifyApi: the fleet verifier's environment needs up to ${size} bytes (TRUSTED_ISSUERS holds most of it), over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT}; trust fewer issuers per fleet verifier, or split the fleet in two`);
  }
}
