/** Types for roundtrip.js, which stays plain JavaScript so a browser can load it as is. */
export function roundTrip(WebSocket: unknown, baseUrl: string): Promise<Record<string, unknown>>;
