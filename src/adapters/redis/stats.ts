/** The counters of netws/redis's RedisAdapter (its `stats`). */

/** Counters since the adapter was made. */
export interface RedisAdapterStats {
  /** Messages Redis acknowledged. */
  published: number;
  /** Messages that did not reach Redis: it was down, the client or Redis refused, or a limit was hit. */
  publishFailed: number;
  /**
   * Messages sent whose acknowledgement never came (the connection was lost
   * first): the other nodes may or may not have received them.
   */
  publishUnconfirmed: number;
  /** Messages from other nodes delivered to this node's subscribers. */
  received: number;
  /** Messages on our channels dropped as malformed, too large, or text that is not UTF-8. */
  dropped: number;
  /** Messages dropped as repeats of one already delivered (a client sent a publish twice). */
  duplicates: number;
  /** SUBSCRIBE/UNSUBSCRIBE commands that failed (subscriptions are retried on the next reconnect). */
  subscribeFailed: number;
  /** Times the subscribing connection lost Redis (it subscribes again when it is back). */
  reconnects: number;
  /** Probes published to check a silent channel's subscription. */
  probes: number;
  /** Channels found not subscribed (a probe did not come back) and subscribed again. */
  resubscribed: number;
  /** Envelope bytes published and received (without Redis protocol framing). */
  bytesOut: number;
  bytesIn: number;
}

export function newStats(): RedisAdapterStats {
  return {
    published: 0,
    publishFailed: 0,
    publishUnconfirmed: 0,
    received: 0,
    dropped: 0,
    duplicates: 0,
    subscribeFailed: 0,
    reconnects: 0,
    probes: 0,
    resubscribed: 0,
    bytesOut: 0,
    bytesIn: 0,
  };
}
