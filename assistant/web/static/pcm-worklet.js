/* AudioWorklet: microphone float samples at the context's rate -> 16 kHz mono s16le chunks of 100 ms.
   Each output sample is the mean of the input samples in its window (a box filter against aliasing). */
var TARGET_RATE = 16000;
var CHUNK_SAMPLES = 1600;  // 100 ms at 16 kHz

class Pcm16kProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / TARGET_RATE;
    this.nextEdge = this.ratio;
    this.position = 0;
    this.sum = 0;
    this.count = 0;
    this.out = new Int16Array(CHUNK_SAMPLES);
    this.filled = 0;
    this.sumSquares = 0;
    this.peak = 0;
  }

  process(inputs) {
    var input = inputs[0];
    if (!input || !input.length) return true;
    var channels = input.length, frames = input[0].length;
    for (var i = 0; i < frames; i++) {
      var x = 0;
      for (var c = 0; c < channels; c++) x += input[c][i];
      x /= channels;
      this.sum += x;
      this.count += 1;
      this.position += 1;
      if (this.position >= this.nextEdge) {
        this.nextEdge += this.ratio;
        this.emit(this.sum / this.count);
        this.sum = 0;
        this.count = 0;
      }
    }
    return true;
  }

  emit(v) {
    if (v > 1) v = 1; else if (v < -1) v = -1;
    this.out[this.filled++] = v < 0 ? v * 0x8000 : v * 0x7fff;
    this.sumSquares += v * v;
    var a = v < 0 ? -v : v;
    if (a > this.peak) this.peak = a;
    if (this.filled === CHUNK_SAMPLES) {
      var rms = Math.sqrt(this.sumSquares / CHUNK_SAMPLES);
      var buf = this.out.buffer;
      this.port.postMessage({ pcm: buf, rms: rms, peak: this.peak }, [buf]);
      this.out = new Int16Array(CHUNK_SAMPLES);
      this.filled = 0;
      this.sumSquares = 0;
      this.peak = 0;
    }
  }
}

registerProcessor("pcm16k", Pcm16kProcessor);
