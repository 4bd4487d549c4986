#!/usr/bin/env node
/**
 * The CDK app: the stacks of the configuration (`config/clusters.json`, or `-c config=PATH`): one
 * per cluster, one per other account holding a cluster's roles, and one per fleet verifier,
 * checked by cdk-nag's AwsSolutions pack.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigValidationError } from '../core/config';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from '../lib/config-loader';
import { addConfigStacks } from '../lib/config-stacks';

const app = new App();
const configPath = String(app.node.tryGetContext('config') ?? DEFAULT_CONFIG_PATH);
try {
  addConfigStacks(app, loadConfigFile(configPath));
} catch (err) {
  // A configuration error is the operator's to fix: show the list, not a stack trace.
  if (!(err instanceof ConfigValidationError)) throw err;
  console.error(err.message);
  process.exit(1);
}
// cdk-nag 3 runs as a CDK validation plugin (v2's Aspects.of(app).add(...) is gone).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
