/**
 * Jest setup: the AWS SDK's own switch for its Node-version warning, so the test log does not carry
 * one nine-line NodeVersionSupportWarning per worker that loads the SDK. Children inherit it, except
 * the CLI runs of test/support/cli.ts (which drop every AWS_* variable): those prove that the CLI
 * itself stays quiet (test/integ/cli-aws.test.ts).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
