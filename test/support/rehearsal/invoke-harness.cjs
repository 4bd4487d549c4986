'use strict';
/**
 * The Lambda runtime's part, for the rehearsal: loads a bundled handler the way the Node.js
 * runtime does (`require(LAMBDA_TASK_ROOT/index).handler`), then runs the invocations the parent
 * sends over IPC one at a time, as one warm execution environment does. Everything the handler
 * writes to stdout and stderr is captured per invocation (Lambda ships it to CloudWatch Logs) and
 * returned with the result. A handler that outlives the function timeout is reported as timed
 * out and the process exits, as Lambda discards that environment.
 *
 * Usage (spawned by lambda.ts with an IPC channel): node invoke-harness.cjs ASSET_FOLDER index.handler TIMEOUT_MS
 */
const path = require('node:path');
const { randomUUID } = require('node:crypto');

const [, , assetFolder, handlerSpec, timeoutArg] = process.argv;
const timeoutMs = Number(timeoutArg);
let captured = [];
for (const stream of [process.stdout, process.stderr]) {
  stream.write = (chunk, encoding, callback) => {
    captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    if (typeof encoding === 'function') encoding();
    else if (typeof callback === 'function') callback();
    return true;
  };
}
function takeLogs() {
  const lines = captured.join('').split('\n').filter((line) => line.length > 0);
  captured = [];
  return lines;
}
function errorOf(err) {
  return { errorType: err && err.name ? err.name : 'Error', errorMessage: err && err.message ? err.message : String(err) };
}

const initStarted = performance.now();
let handler;
let initError;
try {
  const [moduleName, exportName] = handlerSpec.split('.');
  handler = require(path.join(assetFolder, moduleName))[exportName];
  if (typeof handler !== 'function') throw new Error(`${handlerSpec} is not a function in ${assetFolder}`);
} catch (err) {
  initError = { errorType: 'Runtime.ImportModuleError', errorMessage: errorOf(err).errorMessage };
}
const initMs = performance.now() - initStarted;
process.send({ type: 'ready', initMs, nodeVersion: process.version, initError, logs: takeLogs() });

async function invokeOne(event) {
  if (initError) return { error: initError, logs: takeLogs(), durationMs: 0, timedOut: false };
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  const context = {
    awsRequestId: randomUUID(),
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    callbackWaitsForEmptyEventLoop: true,
  };
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve({ timedOut: true }), timeoutMs); });
  const run = Promise.resolve().then(() => handler(event, context)).then((result) => ({ result }), (err) => ({ error: errorOf(err) }));
  const outcome = await Promise.race([run, timeout]);
  clearTimeout(timer);
  return { ...outcome, timedOut: outcome.timedOut === true, logs: takeLogs(), durationMs: performance.now() - started };
}

let queue = Promise.resolve();
process.on('message', (message) => {
  queue = queue.then(async () => {
    const events = message.events;
    const results = [];
    for (const event of events) {
      const result = await invokeOne(event);
      results.push(result);
      if (result.timedOut) break;
    }
    process.send({ type: 'result', id: message.id, results }, () => {
      if (results.some((result) => result.timedOut)) process.exit(3);
    });
  });
});
process.on('disconnect', () => process.exit(0));
