import type { App } from 'aws-cdk-lib';
import type { ConfigFile } from '../core/config';
import { addClusterAndFederationStacks } from './federation-account-stack';
import type { ClusterAndFederationStacks } from './federation-account-stack';
import { addFleetVerifyStacks, fleetDenyListReaders, fleetVerifierFromConfig } from './fleet-verify-stack';
import type { FleetVerifyStack } from './fleet-verify-stack';

/** Every stack {@link addConfigStacks} added. */
export interface ConfigStacks extends ClusterAndFederationStacks {
  /** One `OidcFleet-<name>` per fleet verifier. */
  readonly fleetStacks: FleetVerifyStack[];
}

/**
 * Adds every stack a validated configuration file describes: one `OidcCluster-<name>` per
 * cluster, one `OidcFederation-<cluster>-<account>` per account of a cluster's
 * `federationAccounts` (those roles are then not created in the cluster's own stack), and one
 * `OidcFleet-<name>` per fleet verifier. This is what `bin/app.ts` synthesizes.
 *
 * @throws ConfigValidationError listing every problem that only shows when the stacks are planned
 */
export function addConfigStacks(app: App, config: ConfigFile): ConfigStacks {
  const fleets = config.fleetVerifiers.map(fleetVerifierFromConfig);
  // Clusters read by a fleet of another account grant it their deny list; the fleets then refer
  // to the same-account clusters' buckets, so the cluster stacks come first.
  const stacks = addClusterAndFederationStacks(app, config.clusters, fleetDenyListReaders(fleets, config.clusters));
  const sites = new Map(stacks.clusterStacks.map((stack, i) => [config.clusters[i].name, stack.issuerSite]));
  const fleetStacks = addFleetVerifyStacks(app, fleets, config.clusters, sites);
  return { ...stacks, fleetStacks };
}
