import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { LAMBDA_BUNDLE_EXTERNALS, LAMBDA_BUNDLE_TARGET, LAMBDA_ENTRIES, LambdaBundleName, PREBUNDLED_DIR } from './lambda-bundling';

/** The repository root, where package-lock.json and the Lambda entries live. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/**
 * The newest Node.js runtime this aws-cdk-lib offers, set explicitly: cfn-lint flags deprecated
 * runtimes and cdk-nag flags non-latest ones.
 */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** Settings of one of the project's Lambda functions. */
export interface ProjectFunctionProps {
  /** Which of the project's handlers (see `LAMBDA_ENTRIES`). */
  readonly bundle: LambdaBundleName;
  /** Shown in the console and on the role. */
  readonly description: string;
  /** The Lambda environment (4 KiB in all). */
  readonly environment: Record<string, string>;
  readonly timeout: Duration;
  /** MiB. */
  readonly memorySize: number;
  readonly logRetention: logs.RetentionDays;
  /** Subnets and security groups to run in. @default - not in a VPC */
  readonly vpc?: { readonly vpc: ec2.IVpc; readonly subnets: ec2.ISubnet[]; readonly securityGroups: ec2.ISecurityGroup[] };
}

/**
 * A Lambda function bundled locally by esbuild (no Docker), with its own log group and a role
 * that can write only to that log group; callers add the rest of its permissions.
 */
export class ProjectFunction extends Construct {
  /** The bundled function. */
  readonly function: lambda.Function;
  /** Its execution role: log writes only, until the caller adds more. */
  readonly role: iam.Role;
  /** Its log group. */
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ProjectFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });
    // An explicit role keeps AWSLambdaBasicExecutionRole (logs:* on every log group) off it.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [this.logGroup.logGroupArn],
    }));
    const common: lambda.FunctionOptions & { runtime: lambda.Runtime } = {
      runtime: LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      timeout: props.timeout,
      memorySize: props.memorySize,
      role: this.role,
      logGroup: this.logGroup,
      environment: props.environment,
      ...(props.vpc ? { vpc: props.vpc.vpc, vpcSubnets: { subnets: props.vpc.subnets }, securityGroups: props.vpc.securityGroups } : {}),
    };
    const prebundled = prebundledCode(props.bundle);
    // Same construct id either way, so switching between the two never replaces the function.
    this.function = prebundled
      ? new lambda.Function(this, 'Function', { ...common, code: lambda.Code.fromAsset(prebundled), handler: 'index.handler' })
      : new nodejs.NodejsFunction(this, 'Function', {
        ...common,
        entry: path.join(PROJECT_ROOT, LAMBDA_ENTRIES[props.bundle]),
        handler: 'handler',
        projectRoot: PROJECT_ROOT,
        depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
        bundling: {
          minify: true,
          sourceMap: false,
          target: LAMBDA_BUNDLE_TARGET,
          format: nodejs.OutputFormat.CJS,
          forceDockerBundling: false,
          externalModules: [...LAMBDA_BUNDLE_EXTERNALS],
        },
      });
    if (props.vpc) {
      // ENI management for VPC placement; these EC2 actions support no resource-level scoping.
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({
        actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: ['*'],
      }));
    }
  }
}

/**
 * The pre-bundled handler shipped in the package (`dist/lambda-bundles/NAME`), when this code runs
 * from the built package; `undefined` when it runs from source, where esbuild bundles at synth.
 */
function prebundledCode(bundle: LambdaBundleName): string | undefined {
  const dir = path.resolve(__dirname, '..', '..', PREBUNDLED_DIR, bundle);
  return existsSync(path.join(dir, 'index.js')) ? dir : undefined;
}
