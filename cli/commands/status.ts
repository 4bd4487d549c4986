/**
 * `status --cluster NAME`: what is deployed, without the AWS console. Reads the stack (status and
 * outputs), the published JWKS from the documents bucket, the rotation state and the uploaded keys
 * from the private bucket, the deny list, and the state of every CloudWatch alarm of the stack.
 * Exit 1 when something needs attention (an alarm firing, a failed stack, a revoked key still
 * published, an unusable uploaded key, a sync that never ran), so a script can gate on it.
 */
import { denyEntries, parseDenyList } from '../../core/deny-list';
import { documentPaths } from '../../core/documents';
import { parseKeyMaterial } from '../../core/keys';
import { parseRotationState, RotationState } from '../../core/rotation';
import { SYNC_DEFAULTS } from '../../runtime/sync-runner';
import { CliError, EXIT_FAILED, EXIT_OK, LeafCommand, requiredFlag } from '../command';
import { AwsContext, awsErrorText, clusterStackName, resolveAwsContext, AWS_OPTIONS } from '../cluster-storage';
import { formatFields, formatLocalTime, formatRelative } from '../output';
import { kidsOfJwks } from './keys';

/** One CloudWatch alarm of the stack as `status` reports it. */
export interface AlarmStatus {
  readonly name: string;
  /** OK, ALARM or INSUFFICIENT_DATA (no data yet: normal for a quiet alarm on a new stack). */
  readonly state: string;
  readonly reason?: string;
  readonly since?: string;
}

/** The stack as CloudFormation describes it. */
interface StackFacts {
  readonly status: string;
  readonly statusReason?: string;
  readonly updatedAt?: Date;
  readonly outputs: Record<string, string>;
  readonly alarmNames: string[];
}

/** The `status` command. */
export const statusCommand: LeafCommand = {
  name: 'status',
  summary: 'what is deployed: stack outputs, issuer, published kids, last sync, problems and alarm states',
  description: [
    'Answers "what is deployed?" without the AWS console: the stack OidcCluster-NAME (its status and',
    'outputs), the issuer, the kids of the published JWKS (read from the documents bucket), the last sync',
    'that published (from the rotation state), keys retiring in their grace period, pending problems, and',
    'the state of each CloudWatch alarm of the stack. Exit 1 when something needs attention: an alarm in',
    'ALARM, a stack not in a *_COMPLETE state, a revoked kid still published, an unusable uploaded key, or',
    'no sync yet. Honours AWS_ENDPOINT_URL (moto, LocalStack).',
  ].join('\n'),
  options: {
    cluster: { type: 'string', valueName: 'NAME', required: true, description: 'the cluster: stack OidcCluster-NAME' },
    ...AWS_OPTIONS,
  },
  examples: ['status --cluster prod-eu', 'status --cluster prod-eu --region eu-west-1 --json'],
  async run(args, context) {
    const cluster = requiredFlag(args, 'cluster');
    const aws = await resolveAwsContext(args, context, cluster);
    const stackName = clusterStackName(cluster);
    const stack = await describeStack(stackName, aws);
    const now = Math.floor(context.io.now().getTime() / 1000);
    const problems: string[] = [];
    const pending: string[] = [];
    if (!/_COMPLETE$/.test(stack.status) || /ROLLBACK/.test(stack.status)) {
      problems.push(`stack ${stackName} is ${stack.status}${stack.statusReason ? ` (${stack.statusReason})` : ''}: see its events (aws cloudformation describe-stack-events --stack-name ${stackName})`);
    }

    const issuer = stack.outputs.IssuerUrl;
    const { createS3Client } = await import('../../runtime/aws-clients');
    const { S3ObjectStore } = await import('../../runtime/s3-object-store');
    const s3 = createS3Client(context.io.env.AWS_ENDPOINT_URL, aws.clientSettings);
    try {
      const documents = stack.outputs.DocumentsBucketName ? new S3ObjectStore(s3, stack.outputs.DocumentsBucketName) : undefined;
      const privateStore = stack.outputs.PrivateBucketName ? new S3ObjectStore(s3, stack.outputs.PrivateBucketName) : undefined;
      if (!issuer || !documents || !privateStore) {
        throw new CliError(`stack ${stackName} lacks the IssuerUrl, DocumentsBucketName or PrivateBucketName output: is it deployed from this app?`);
      }

      const jwksKey = documentPaths(issuer).jwksKey;
      const jwks = await readOrExplain(() => documents.get(jwksKey), `the published JWKS s3://${stack.outputs.DocumentsBucketName}/${jwksKey}`);
      const publishedKids = jwks ? kidsOfJwks(jwks.body) : undefined;
      if (!jwks) problems.push(`nothing is published at ${documentPaths(issuer).jwksUri}: run \`kube-oidc sync --cluster ${cluster}\` (or wait for the scheduled sync)`);
      else if (!publishedKids) problems.push(`the published JWKS (${jwksKey}) is not a JWKS: run \`kube-oidc sync --cluster ${cluster}\` to publish it again`);
      else if (publishedKids.length === 0) problems.push('the published JWKS has no keys: every token is refused; upload a key (`kube-oidc keys upload`) and sync');

      const stateObject = await readOrExplain(() => privateStore.get(SYNC_DEFAULTS.stateKey), `the rotation state s3://${stack.outputs.PrivateBucketName}/${SYNC_DEFAULTS.stateKey}`);
      let state: RotationState | undefined;
      if (stateObject) {
        try {
          state = parseRotationState(stateObject.body);
        } catch (err) {
          problems.push(`the rotation state ${SYNC_DEFAULTS.stateKey} cannot be read (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): the next sync starts from the published JWKS`);
        }
      } else {
        problems.push(`no rotation state yet: the sync has never completed for this cluster; run \`kube-oidc sync --cluster ${cluster}\``);
      }
      const retiring = state
        ? Object.entries(state.keys).filter(([, record]) => record.missingSince !== undefined).map(([kid, record]) => ({ kid, missingSince: record.missingSince! }))
        : [];
      for (const entry of retiring) pending.push(`kid ${entry.kid} is retiring: no source has listed it since ${formatLocalTime(new Date(entry.missingSince * 1000))}; it leaves the JWKS when its grace period ends`);
      if (state && publishedKids) {
        for (const kid of Object.keys(state.keys)) {
          if (!publishedKids.includes(kid)) pending.push(`kid ${kid} is in the rotation state but not in the published JWKS: the next sync publishes it again or retires it`);
        }
      }

      const denyObject = await readOrExplain(() => privateStore.get(SYNC_DEFAULTS.denyListKey), 'the deny list');
      if (denyObject && publishedKids) {
        try {
          const revoked = denyEntries(parseDenyList(denyObject.body), 'kid').map((entry) => entry.value);
          for (const kid of revoked.filter((k) => publishedKids.includes(k))) {
            problems.push(`kid ${kid} is revoked but still published: run \`kube-oidc sync --cluster ${cluster}\` to remove it now`);
          }
        } catch (err) {
          problems.push(`the deny list ${SYNC_DEFAULTS.denyListKey} cannot be read (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): fix it with \`kube-oidc deny\``);
        }
      }

      const uploaded: { object: string; kids: string[]; problems: string[] }[] = [];
      const uploadedKeys = await readOrExplain(() => privateStore.list(SYNC_DEFAULTS.keyPrefix), 'the uploaded keys') ?? [];
      for (const key of uploadedKeys) {
        const object = await privateStore.get(key);
        if (!object) continue;
        const parsed = parseKeyMaterial(object.body, key);
        const reasons = parsed.problems.map((p) => p.reason);
        uploaded.push({ object: key, kids: parsed.keys.map((k) => k.jwk.kid), problems: reasons });
        if (reasons.length > 0) problems.push(`uploaded key ${key} is not used: ${reasons.join('; ')}; replace it with \`kube-oidc keys upload\``);
      }

      const alarms = await describeAlarms(stackName, stack.alarmNames, aws);
      for (const alarm of alarms.filter((a) => a.state === 'ALARM')) problems.push(`alarm ${alarm.name} is in ALARM${alarm.reason ? `: ${alarm.reason}` : ''}`);
      const syncAlarmFiring = alarms.some((a) => a.state === 'ALARM' && /JwksSync/i.test(a.name));
      const lastSync = {
        publishedAt: state?.lastPublishedAt !== undefined ? new Date(state.lastPublishedAt * 1000).toISOString() : null,
        // The rotation state records successful publications only; failures show in the sync's alarms.
        outcome: !state ? 'never' : syncAlarmFiring ? 'failing (a sync alarm is in ALARM)' : 'ok',
      };

      const ok = problems.length === 0;
      const human = [
        `cluster ${cluster}: stack ${stackName} ${stack.status}${stack.updatedAt ? ` (last changed ${formatLocalTime(stack.updatedAt)})` : ''}, region ${aws.region}`,
        '',
        formatFields([
          ['issuer', issuer],
          ['published kids', publishedKids === undefined ? '(none published)' : publishedKids.join(', ') || '(none)'],
          ['last publish', state?.lastPublishedAt !== undefined ? `${formatLocalTime(new Date(state.lastPublishedAt * 1000))} (${formatRelative(state.lastPublishedAt, now)})` : '(never)'],
          ['last sync outcome', lastSync.outcome],
          ['uploaded keys', uploaded.length ? uploaded.map((u) => `${u.object}${u.kids.length ? ` (${u.kids.join(', ')})` : ' (unusable)'}`).join(', ') : '(none)'],
        ]),
        '',
        'outputs:',
        formatFields(Object.entries(stack.outputs).sort(([a], [b]) => a.localeCompare(b))).split('\n').map((line) => `  ${line}`).join('\n'),
        '',
        'alarms:',
        ...(alarms.length ? alarms.map((a) => `  ${a.state.padEnd(17)} ${a.name}`) : ['  (no alarms in the stack)']),
        '',
        ...(pending.length ? ['pending:', ...pending.map((p) => `  - ${p}`), ''] : []),
        ok ? 'no problems found' : `problems (${problems.length}):`,
        ...problems.map((p) => `  - ${p}`),
      ].join('\n');
      context.emit(human, {
        ok,
        cluster,
        stack: { name: stackName, status: stack.status, statusReason: stack.statusReason ?? null, lastUpdated: stack.updatedAt?.toISOString() ?? null },
        region: aws.region,
        regionSource: aws.regionSource,
        issuer,
        outputs: stack.outputs,
        publishedKids: publishedKids ?? [],
        lastSync,
        retiring,
        uploaded,
        alarms,
        pending,
        problems,
      });
      return ok ? EXIT_OK : EXIT_FAILED;
    } finally {
      s3.destroy();
    }
  },
};

async function readOrExplain<T>(read: () => Promise<T>, what: string): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw new CliError(`cannot read ${what}: ${awsErrorText(err)}; check that the credentials may read the cluster's buckets`);
  }
}

async function describeStack(stackName: string, aws: AwsContext): Promise<StackFacts> {
  const { CloudFormationClient, DescribeStacksCommand, DescribeStackResourcesCommand } = await import('@aws-sdk/client-cloudformation');
  const client = new CloudFormationClient(aws.clientSettings);
  try {
    let described;
    try {
      described = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    } catch (err) {
      throw new CliError(`cannot read stack ${stackName} in ${aws.region} (region from ${aws.regionSource}): ${awsErrorText(err)}; deploy it first (npx cdk deploy ${stackName}), or check the region (--region) and the credentials`);
    }
    const stack = described.Stacks?.[0];
    if (!stack) throw new CliError(`stack ${stackName} was not found in ${aws.region}: deploy it first, or check --region`);
    const outputs: Record<string, string> = {};
    for (const output of stack.Outputs ?? []) if (output.OutputKey && output.OutputValue) outputs[output.OutputKey] = output.OutputValue;
    const resources = await client.send(new DescribeStackResourcesCommand({ StackName: stackName }));
    const alarmNames = (resources.StackResources ?? [])
      .filter((resource) => resource.ResourceType === 'AWS::CloudWatch::Alarm' && resource.PhysicalResourceId)
      .map((resource) => resource.PhysicalResourceId!);
    return {
      status: stack.StackStatus ?? 'UNKNOWN',
      statusReason: stack.StackStatusReason,
      updatedAt: stack.LastUpdatedTime ?? stack.CreationTime,
      outputs,
      alarmNames,
    };
  } finally {
    client.destroy();
  }
}

/** DescribeAlarms takes at most 100 names per call. */
const ALARM_NAMES_PER_CALL = 100;

/**
 * Whether an alarm name is one CloudFormation generated for a resource of this stack:
 * `STACK-LogicalId-SUFFIX`, where logical IDs and suffixes are alphanumeric. The shape keeps out the
 * alarms of a cluster whose name merely starts the same (`OidcCluster-dev-eu-...` for `dev`).
 */
export function isGeneratedAlarmOf(stackName: string, alarmName: string): boolean {
  return alarmName.startsWith(`${stackName}-`) && /^[A-Za-z0-9]+-[A-Za-z0-9]+$/.test(alarmName.slice(stackName.length + 1));
}

/**
 * The stack's alarms: those listed among its resources, and those whose generated name shows they
 * belong to it (for endpoints whose CloudFormation does not list alarms as resources).
 */
async function describeAlarms(stackName: string, names: readonly string[], aws: AwsContext): Promise<AlarmStatus[]> {
  const { CloudWatchClient, DescribeAlarmsCommand } = await import('@aws-sdk/client-cloudwatch');
  const client = new CloudWatchClient(aws.clientSettings);
  try {
    const found = new Map<string, AlarmStatus>();
    const add = (alarm: { AlarmName?: string; StateValue?: string; StateReason?: string; StateUpdatedTimestamp?: Date }): void => {
      if (!alarm.AlarmName) return;
      found.set(alarm.AlarmName, {
        name: alarm.AlarmName,
        state: alarm.StateValue ?? 'UNKNOWN',
        ...(alarm.StateReason ? { reason: alarm.StateReason } : {}),
        ...(alarm.StateUpdatedTimestamp ? { since: alarm.StateUpdatedTimestamp.toISOString() } : {}),
      });
    };
    for (let i = 0; i < names.length; i += ALARM_NAMES_PER_CALL) {
      const out = await client.send(new DescribeAlarmsCommand({ AlarmNames: names.slice(i, i + ALARM_NAMES_PER_CALL) }));
      for (const alarm of out.MetricAlarms ?? []) add(alarm);
    }
    let nextToken: string | undefined;
    do {
      const out = await client.send(new DescribeAlarmsCommand({ AlarmNamePrefix: `${stackName}-`, NextToken: nextToken }));
      for (const alarm of out.MetricAlarms ?? []) if (alarm.AlarmName && isGeneratedAlarmOf(stackName, alarm.AlarmName)) add(alarm);
      nextToken = out.NextToken;
    } while (nextToken);
    return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
  } catch (err) {
    throw new CliError(`cannot read the alarms of the stack: ${awsErrorText(err)}; the credentials need cloudwatch:DescribeAlarms`);
  } finally {
    client.destroy();
  }
}
