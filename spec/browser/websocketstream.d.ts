/** Types for websocketstream.js, which stays plain JavaScript so a browser can load it as is. */
export function streamRoundTrip(WebSocketStream: unknown, WebSocketError: unknown, baseUrl: string): Promise<Record<string, unknown>>;
