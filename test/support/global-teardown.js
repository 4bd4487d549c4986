// jest globalTeardown: see temp-root.js.
module.exports = require('./temp-root').teardown;
