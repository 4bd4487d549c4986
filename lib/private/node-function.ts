import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The repository root, where package-lock.json and the Lambda entries live. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/**
 * The newest Node.js runtime this aws-cdk-lib offers, set explicitly: cfn-lint flags deprecated
 * runtimes and cdk-nag flags non-latest ones.
 */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** Settings of one of the project's Lambda functions. */
export interface ProjectFunctionProps {
  /** Entry file, relative to the repository root. */
  readonly entry: string;
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
  readonly function: nodejs.NodejsFunction;
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
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: path.join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      timeout: props.timeout,
      memorySize: props.memorySize,
      role: this.role,
      logGroup: this.logGroup,
      environment: props.environment,
      ...(props.vpc ? { vpc: props.vpc.vpc, vpcSubnets: { subnets: props.vpc.subnets }, securityGroups: props.vpc.securityGroups } : {}),
      bundling: {
        minify: true,
        sourceMap: false,
        target: 'node24',
        format: nodejs.OutputFormat.CJS,
        forceDockerBundling: false,
        // The runtime ships AWS SDK v3; bundling it would only grow the package.
        externalModules: ['@aws-sdk/*'],
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
