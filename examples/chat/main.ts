/**
 * `npm start`: the chat demo on http://localhost:8080 (PORT overrides).
 *
 *   REDIS_URL=redis://127.0.0.1:6379 npm start   the chat on Redis: start more
 *                                                (other PORTs, other machines)
 *                                                and they form one chat
 *   WORKERS=4 REDIS_URL=… npm start              4 processes on one port (node:cluster)
 */

import cluster from 'node:cluster';
import { startChatServer } from './server.ts';

const port = Number(process.env.PORT ?? 8080);
const redisUrl = process.env.REDIS_URL || undefined;
const workers = Number(process.env.WORKERS ?? 1);

if (!Number.isInteger(workers) || workers < 1) {
  console.error(`WORKERS must be a whole number from 1, not ${process.env.WORKERS}`);
  process.exit(1);
} else if (workers > 1 && redisUrl === undefined) {
  // Processes that share nothing would split every room in two.
  console.error('WORKERS > 1 needs REDIS_URL: the processes share the chat through Redis');
  process.exit(1);
} else if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  // A worker that dies is replaced (its people reconnect to the others
  // meanwhile), a few times: one that cannot start at all stops the demo.
  let restarts = 0;
  cluster.on('exit', (worker, code, signal) => {
    if (++restarts > 3 * workers) {
      console.error(`worker ${worker.process.pid} exited (${signal ?? code}); too many restarts, stopping`);
      process.exit(1);
    }
    console.log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    cluster.fork();
  });
  console.log(`netws chat demo: http://localhost:${port}  (${workers} workers on Redis ${redisUrl}; Ctrl+C to stop)`);
} else {
  const chat = await startChatServer(port, undefined, { redisUrl });
  if (cluster.isPrimary) {
    const shared = redisUrl === undefined ? 'this process only' : `shared through Redis ${redisUrl}`;
    console.log(`netws chat demo: ${chat.url}  (rooms: ${chat.url}/?room=name; ${shared}; Ctrl+C to stop)`);
  } else {
    console.log(`worker ${process.pid} serving ${chat.url}`);
  }
}
