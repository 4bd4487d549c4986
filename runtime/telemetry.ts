/**
 * Structured log lines and CloudWatch metrics in Embedded Metric Format: one JSON object per
 * line on stdout, which Lambda ships to CloudWatch Logs and CloudWatch turns into metrics. Kept
 * dependency-free because the verifier's bundle size is its cold start.
 *
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */

/** A metric value and its CloudWatch unit. */
export interface MetricValue {
  readonly value: number;
  readonly unit: 'Count' | 'Seconds' | 'Milliseconds' | 'None';
}

/** Where lines go: stdout in Lambda, a test's array in tests. */
export type LineSink = (line: string) => void;

/** Writes one structured log line. */
export function logLine(fields: Record<string, unknown>, sink: LineSink = defaultSink): void {
  sink(JSON.stringify({ level: 'INFO', ...fields }));
}

/**
 * Writes one log line that also carries metrics: the fields stay searchable in CloudWatch Logs
 * Insights, and the metrics land in `namespace` with the given dimensions.
 */
export function logWithMetrics(
  namespace: string,
  dimensions: Readonly<Record<string, string>>,
  metrics: Readonly<Record<string, MetricValue>>,
  fields: Record<string, unknown>,
  sink: LineSink = defaultSink,
  timestampMs: number = Date.now(),
): void {
  const values: Record<string, number> = {};
  for (const [name, metric] of Object.entries(metrics)) values[name] = metric.value;
  sink(JSON.stringify({
    level: 'INFO',
    ...fields,
    ...dimensions,
    ...values,
    _aws: {
      Timestamp: timestampMs,
      CloudWatchMetrics: [{
        Namespace: namespace,
        Dimensions: [Object.keys(dimensions)],
        Metrics: Object.entries(metrics).map(([name, metric]) => ({ Name: name, Unit: metric.unit })),
      }],
    },
  }));
}

function defaultSink(line: string): void {
  process.stdout.write(`${line}\n`);
}
