/**
 * Counts the server frames in a byte stream without copying or inflating
 * them: the neutral load generator's view of echoes whose size varies
 * (compressed ones). It reads the 2-10 header bytes of each frame and skips
 * its payload; `onFrame` gets the frame's first payload bytes when asked.
 */

export class FrameCounter {
  frames = 0;
  /** Header bytes gathered so far (a header may span chunks). */
  private header = Buffer.alloc(10);
  private headerHave = 0;
  private skip = 0;
  /** Bytes of the current payload to hand to `onFrame`, and those gathered. */
  private readonly peek: number;
  private peekBuffer: Buffer;
  private peekHave = 0;
  private peekWant = 0;
  private readonly onFrame: ((payloadStart: Buffer) => void) | null;

  constructor(onFrame: ((payloadStart: Buffer) => void) | null = null, peek = 0) {
    this.onFrame = onFrame;
    this.peek = peek;
    this.peekBuffer = Buffer.alloc(peek);
  }

  push(chunk: Buffer): number {
    const before = this.frames;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, chunk.length - offset);
        if (this.peekHave < this.peekWant) {
          const copy = Math.min(take, this.peekWant - this.peekHave);
          chunk.copy(this.peekBuffer, this.peekHave, offset, offset + copy);
          this.peekHave += copy;
          if (this.peekHave === this.peekWant) this.onFrame!(this.peekBuffer.subarray(0, this.peekWant));
        }
        this.skip -= take;
        offset += take;
        continue;
      }
      this.header[this.headerHave++] = chunk[offset++];
      if (this.headerHave < 2) continue;
      const length7 = this.header[1] & 0x7f;
      const size = length7 === 126 ? 4 : length7 === 127 ? 10 : 2;
      if (this.headerHave < size) continue;
      const length = length7 === 126 ? this.header.readUInt16BE(2) : length7 === 127 ? Number(this.header.readBigUInt64BE(2)) : length7;
      this.headerHave = 0;
      this.frames++;
      this.skip = length;
      this.peekHave = 0;
      this.peekWant = this.onFrame === null ? 0 : Math.min(this.peek, length);
      if (this.onFrame !== null && this.peekWant === 0) this.onFrame(this.peekBuffer.subarray(0, 0));
    }
    return this.frames - before;
  }
}
