/** The per-cluster dashboard watches the metric names the Lambdas emit (core/metrics.ts). */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SYNC_METRICS, VERIFY_METRICS } from '../../core/metrics';
import { OperationsDashboard } from '../../lib/constructs/dashboard';
import { bareTestApp } from './support/synth';

function dashboardBody(withVerify: boolean): string {
  const stack = new Stack(bareTestApp(), 'Dash');
  const fn = (id: string) => new lambda.Function(stack, id, { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}') });
  new OperationsDashboard(stack, 'Dashboard', {
    dashboardName: 'kube-oidc-test',
    metricsNamespace: 'KubeOidc/test',
    syncFunction: fn('Sync'),
    ...(withVerify ? { verifyFunction: fn('Verify') } : {}),
  });
  const dashboards = Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard');
  expect(Object.keys(dashboards)).toHaveLength(1);
  return JSON.stringify(Object.values(dashboards)[0].Properties.DashboardBody);
}

it('graphs every sync metric in the cluster namespace', () => {
  const body = dashboardBody(false);
  expect(body).toContain('KubeOidc/test');
  for (const name of Object.values(SYNC_METRICS)) expect(body).toContain(name);
  expect(body).not.toContain(VERIFY_METRICS.requests);
});

it('adds verdicts by route and result and latency percentiles when there is a Verify API', () => {
  const body = dashboardBody(true);
  expect(body).toContain(`MetricName=\\\\\\"${VERIFY_METRICS.requests}\\\\\\"`);
  expect(body).toContain(`MetricName=\\\\\\"${VERIFY_METRICS.latency}\\\\\\"`);
  expect(body).toContain('Route,Result');
  expect(body).toMatch(/p99/);
});
