import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { SYNC_METRICS, VERIFY_METRICS, VERIFY_METRIC_DIMENSIONS } from '../../core/metrics';

/** Properties of {@link OperationsDashboard}. */
export interface OperationsDashboardProps {
  /** Name shown in the CloudWatch console. */
  readonly dashboardName: string;
  /** The namespace both Lambdas emit their EMF metrics in (one per cluster). */
  readonly metricsNamespace: string;
  /**
   * The JWKS sync function.
   * @default - no sync widgets (a fleet verifier's dashboard)
   */
  readonly syncFunction?: lambda.IFunction;
  /**
   * The Verify API function.
   * @default - no Verify API widgets
   */
  readonly verifyFunction?: lambda.IFunction;
  /**
   * Aggregation period of the graphs.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

/**
 * One CloudWatch dashboard per cluster: sync runs and failures, published key count, age of the
 * published documents, and the Verify API's verdicts by reason and latency.
 */
export class OperationsDashboard extends Construct {
  /** The dashboard. */
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(5);
    const sync = (metricName: string, statistic: string, label: string) =>
      new cloudwatch.Metric({ namespace: props.metricsNamespace, metricName, statistic, period, label });

    this.dashboard = new cloudwatch.Dashboard(this, 'Resource', { dashboardName: props.dashboardName });
    if (props.syncFunction) this.dashboard.addWidgets(
      new cloudwatch.TextWidget({ markdown: '# JWKS sync', width: 24, height: 1 }),
      new cloudwatch.GraphWidget({
        title: 'Sync runs (1 = ok, 0 = failed) and Lambda errors',
        left: [sync(SYNC_METRICS.outcome, 'Minimum', 'worst run outcome'), sync(SYNC_METRICS.outcome, 'SampleCount', 'runs')],
        right: [props.syncFunction.metricErrors({ period, label: 'Lambda errors' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Published keys, new kids, refused private keys, failed sources',
        left: [sync(SYNC_METRICS.publishedKeyCount, 'Maximum', 'published keys')],
        right: [
          sync(SYNC_METRICS.newKids, 'Sum', 'new kids'),
          sync(SYNC_METRICS.refusedPrivateKeys, 'Sum', 'refused private keys'),
          sync(SYNC_METRICS.failedSources, 'Maximum', 'failed key sources'),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Security: kid conflicts (refused key substitutions), documents changed by others (restored)',
        left: [
          sync(SYNC_METRICS.kidConflicts, 'Maximum', 'kid conflicts'),
          sync(SYNC_METRICS.documentsTampered, 'Sum', 'tampered documents'),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Seconds the documents have gone unconfirmed (0 while runs succeed)',
        left: [sync(SYNC_METRICS.secondsSinceLastPublish, 'Maximum', 'seconds')],
        width: 8,
      }),
    );
    if (props.verifyFunction) {
      const dimensions = VERIFY_METRIC_DIMENSIONS.join(',');
      const search = (metricName: string, statistic: string) =>
        `SEARCH('{${props.metricsNamespace},${dimensions}} MetricName="${metricName}"', '${statistic}', ${period.toSeconds()})`;
      this.dashboard.addWidgets(
        new cloudwatch.TextWidget({ markdown: '# Verify API', width: 24, height: 1 }),
        new cloudwatch.GraphWidget({
          title: 'Requests by route and result (authenticated or reason code)',
          left: [new cloudwatch.MathExpression({ expression: search(VERIFY_METRICS.requests, 'Sum'), label: '', period })],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: 'Handler latency p50 / p99 (ms) by route and result',
          left: [
            new cloudwatch.MathExpression({ expression: search(VERIFY_METRICS.latency, 'p50'), label: 'p50', period }),
            new cloudwatch.MathExpression({ expression: search(VERIFY_METRICS.latency, 'p99'), label: 'p99', period }),
          ],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: 'Verify Lambda errors, throttles and duration',
          left: [props.verifyFunction.metricErrors({ period }), props.verifyFunction.metricThrottles({ period })],
          right: [props.verifyFunction.metricDuration({ period, statistic: 'p99' })],
          width: 24,
        }),
      );
    }
  }
}
