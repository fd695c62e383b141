/** The coverage-guided fuzz targets by name, in the order `--target all` runs them. */

import type { FuzzTarget } from '../target.ts';
import { close } from './close.ts';
import { connect } from './connect.ts';
import { deflate } from './deflate.ts';
import { frames } from './frames.ts';
import { handshake } from './handshake.ts';
import { head } from './head.ts';
import { redis } from './redis.ts';

export const TARGETS: Record<string, FuzzTarget> = { frames, deflate, head, handshake, connect, close, redis };
