// What `require('netws/redis')` loads (the "require" condition in
// package.json): the ES module's namespace, through Node's require() of ES
// modules, so import and require share one copy of the code (see
// ../commonjs.cts).
import redis = require('./redis.ts');
export = redis;
