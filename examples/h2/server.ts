/**
 * `npx tsx examples/h2/server.ts [--port 8443] [--host H] [--cert file --key file]`:
 * the HTTP/2 echo example of app.ts. Prints `listening on <port>`; open
 * https://localhost:<port>/ (the default certificate is self-signed).
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startH2Echo } from './app.ts';

const { values } = parseArgs({
  options: { port: { type: 'string' }, host: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' } },
});
const echo = await startH2Echo({
  port: values.port === undefined ? undefined : Number(values.port),
  host: values.host,
  cert: values.cert === undefined ? undefined : readFileSync(values.cert),
  key: values.key === undefined ? undefined : readFileSync(values.key),
});
console.log(`listening on ${echo.port}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void echo.close().then(() => process.exit(0));
  });
}
