/* The chair console, part 6: the audio resend buffer, the browser's twin of the capture client's.
   No DOM, no socket, no clock: positions count 16 kHz samples from the stream's first one (the
   capture protocol's "received", docs/capture.md), so it is driven and tested by sample counts alone.

   append() each captured chunk, connected or not; after a "ready" frame send what pendingFrom(M)
   returns (a gap to announce first, then the held chunks from M); ack(M) for each "ack" frame.
   The buffer holds at most maxSamples (plus the newest chunk): what a long drop pushes out is
   counted, and comes back from pendingFrom as a gap of that many samples, so the server's audio
   time never shrinks however long the network was down. */
(function (C) {
  "use strict";

  function ResendBuffer(maxSamples) {
    this.maxSamples = maxSamples;
    this.chunks = [];      // {start, data: Int16Array}, oldest first
    this.end = 0;          // samples appended so far: the audio time captured
    this.acked = 0;        // the server has everything before this
    this.dropped = 0;      // unacknowledged samples pushed out because the buffer was full
    this.gapSamples = 0;   // samples handed out as gaps in place of dropped audio
  }
  /** Where the oldest held sample is (end when nothing is held). */
  ResendBuffer.prototype.start = function () {
    return this.chunks.length ? this.chunks[0].start : this.end;
  };
  /** Samples held for resending. */
  ResendBuffer.prototype.held = function () { return this.end - this.start(); };
  /** Keep a captured chunk; returns how many unacknowledged samples were pushed out to fit it. */
  ResendBuffer.prototype.append = function (data) {
    this.chunks.push({ start: this.end, data: data });
    this.end += data.length;
    var dropped = 0;
    while (this.chunks.length > 1 && this.end - this.chunks[0].start > this.maxSamples) {
      var c = this.chunks.shift();
      dropped += c.start + c.data.length - Math.max(c.start, this.acked);
    }
    this.dropped += dropped;
    return dropped;
  };
  /** The server has everything before ``received``: free it. False when it claims more than was captured. */
  ResendBuffer.prototype.ack = function (received) {
    if (typeof received !== "number" || received < 0 || received > this.end) return false;
    if (received > this.acked) this.acked = received;
    while (this.chunks.length && this.chunks[0].start + this.chunks[0].data.length <= received) this.chunks.shift();
    return true;
  };
  /**
   * What to send after "ready" with ``received``: {gap: samples the server must count as silence
   * (sent first), frames: [Int16Array...] from there on}; null when ``received`` makes no sense.
   */
  ResendBuffer.prototype.pendingFrom = function (received) {
    if (!this.ack(received)) return null;
    var gap = Math.max(0, this.start() - received);
    this.gapSamples += gap;
    var frames = [];
    this.chunks.forEach(function (c) {
      var skip = Math.max(0, received - c.start);
      if (skip < c.data.length) frames.push(skip ? c.data.subarray(skip) : c.data);
    });
    return { gap: gap, frames: frames };
  };

  C.ResendBuffer = ResendBuffer;
})(window.Chair);
