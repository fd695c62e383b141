/** `npm start`: the chat demo on http://localhost:8080 (PORT overrides). */

import { startChatServer } from './server.ts';

const port = Number(process.env.PORT ?? 8080);
const chat = await startChatServer(port);
console.log(`netws chat demo: ${chat.url}  (rooms: ${chat.url}/?room=name; Ctrl+C to stop)`);
