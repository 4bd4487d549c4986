/**
 * Library entry point: the constructs, the per-cluster stack and the config loader, for apps
 * that compose them differently from bin/app.ts.
 */
export * from './constructs/alarms';
export * from './constructs/dashboard';
export * from './constructs/federation';
export * from './constructs/issuer-site';
export * from './constructs/jwks-sync';
export * from './constructs/verify-api';
export * from './cluster-oidc-stack';
export * from './federation-account-stack';
export * from './fleet-verify-stack';
export * from './config-stacks';
export * from './config-loader';
export { LAMBDA_RUNTIME } from './private/node-function';
export { ConfigValidationError, validateConfig, validateConfigFile, stackIdFor } from '../core/config';
export type { ClusterConfig, ConfigFile, FederationAccountConfig } from '../core/config';
export { federationStackIdFor, planFederationAccounts } from '../core/federation-accounts';
export type { ClusterFederationPlan, FederationAccountSpec } from '../core/federation-accounts';
