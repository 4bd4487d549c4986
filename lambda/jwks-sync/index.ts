// Placeholder entry point so that the CDK app can bundle this Lambda while its adapter is written.
export async function handler(): Promise<never> {
  throw new Error('not implemented yet');
}
