#!/usr/bin/env node
/**
 * The CDK app: one stack per cluster of the configuration (`config/clusters.json`, or
 * `-c config=PATH`), checked by cdk-nag's AwsSolutions pack.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigValidationError } from '../core/config';
import { addClusterStacks } from '../lib/cluster-oidc-stack';
import { DEFAULT_CONFIG_PATH, loadClusterConfig } from '../lib/config-loader';

const app = new App();
const configPath = String(app.node.tryGetContext('config') ?? DEFAULT_CONFIG_PATH);
try {
  // TODO(fleet): once the config carries `fleetVerifiers` (core/config.ts), wire them here:
  //   const readers = fleetDenyListReaders(fleets, clusters);
  //   const stacks = addClusterStacks(app, clusters, readers);
  //   addFleetVerifyStacks(app, fleets, clusters, new Map(stacks.map((s, i) => [clusters[i].name, s.issuerSite])));
  // (lib/fleet-verify-stack.ts; FleetVerifierConfig is the section's shape.)
  addClusterStacks(app, loadClusterConfig(configPath));
} catch (err) {
  // A configuration error is the operator's to fix: show the list, not a stack trace.
  if (!(err instanceof ConfigValidationError)) throw err;
  console.error(err.message);
  process.exit(1);
}
// cdk-nag 3 runs as a CDK validation plugin (v2's Aspects.of(app).add(...) is gone).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
