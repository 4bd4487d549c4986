import { Duration, Annotations } from 'aws-cdk-lib';
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

/** Properties of {@link VerifyApi}. */
export interface VerifyApiProps {
  /** The issuer URL (may be a deploy-time token). */
  readonly issuerUrl: string;
  /** The documents bucket and the key of its JWKS object, which the verifier reads. */
  readonly documentsBucket: s3.IBucket;
  readonly jwksKey: string;
  /** The private bucket holding the deny list. */
  readonly privateBucket: s3.IBucket;
  readonly policy: VerifyPolicy;
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
 * exactly those two objects.
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
    const layout = PRIVATE_BUCKET_LAYOUT;
    const environment: Record<string, string> = {
      ISSUER_URL: props.issuerUrl,
      DOCUMENTS_BUCKET: props.documentsBucket.bucketName,
      JWKS_KEY: props.jwksKey,
      PRIVATE_BUCKET: props.privateBucket.bucketName,
      DENY_LIST_KEY: layout.denyListKey,
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

    const fn = new ProjectFunction(this, 'Handler', {
      bundle: 'token-verifier',
      description: 'Verifies Kubernetes service-account tokens against the published JWKS',
      environment,
      timeout: Duration.seconds(10),
      memorySize: 512,
      logRetention: logs.RetentionDays.THREE_MONTHS,
    });
    this.function = fn.function;
    this.role = fn.role;
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ReadTheJwksAndTheDenyList',
      actions: ['s3:GetObject'],
      resources: [props.documentsBucket.arnForObjects(props.jwksKey), props.privateBucket.arnForObjects(layout.denyListKey)],
    }));

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
    for (const route of routes) cfnStage.addDependency(route.node.defaultChild as apigwv2.CfnRoute);

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
