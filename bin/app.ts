#!/usr/bin/env node
/**
 * The CDK app: one stack per cluster of the configuration (`config/clusters.json`, or
 * `-c config=PATH`) and one per fleet verifier, checked by cdk-nag's AwsSolutions pack.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigValidationError } from '../core/config';
import { addClusterStacks } from '../lib/cluster-oidc-stack';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from '../lib/config-loader';
import { addFleetVerifyStacks, fleetDenyListReaders, fleetVerifierFromConfig } from '../lib/fleet-verify-stack';

const app = new App();
const configPath = String(app.node.tryGetContext('config') ?? DEFAULT_CONFIG_PATH);
try {
  const config = loadConfigFile(configPath);
  const fleets = config.fleetVerifiers.map(fleetVerifierFromConfig);
  // Clusters read by a fleet of another account grant it their deny list; then the fleets, which
  // refer to the same-account clusters' buckets.
  const clusterStacks = addClusterStacks(app, config.clusters, fleetDenyListReaders(fleets, config.clusters));
  addFleetVerifyStacks(app, fleets, config.clusters, new Map(clusterStacks.map((stack, i) => [config.clusters[i].name, stack.issuerSite])));
} catch (err) {
  // A configuration error is the operator's to fix: show the list, not a stack trace.
  if (!(err instanceof ConfigValidationError)) throw err;
  console.error(err.message);
  process.exit(1);
}
// cdk-nag 3 runs as a CDK validation plugin (v2's Aspects.of(app).add(...) is gone).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
