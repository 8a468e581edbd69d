// A microphone level meter: an AnalyserNode on the track, sampled once per
// animation frame, shown as a bar with role="meter".

import { h } from './dom';

export interface LevelMeter {
  readonly element: HTMLElement;
  /** attach measures track (or nothing when undefined). */
  attach(track: MediaStreamTrack | undefined): void;
  close(): void;
}

export function levelMeter(label: string): LevelMeter {
  const fill = h('div', { class: 'meter-fill' });
  const element = h(
    'div',
    { class: 'meter', role: 'meter', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0 },
    fill,
  );
  let ctx: AudioContext | undefined;
  let source: MediaStreamAudioSourceNode | undefined;
  let frame = 0;
  let lastAria = 0;
  const analyser = (): AnalyserNode | undefined => {
    if (ctx === undefined) return undefined;
    const a = ctx.createAnalyser();
    a.fftSize = 512;
    return a;
  };
  let node: AnalyserNode | undefined;
  const buf = new Float32Array(512);

  const tick = (): void => {
    frame = requestAnimationFrame(tick);
    if (node === undefined) return;
    node.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    const rms = Math.sqrt(sum / buf.length);
    // Map -60..0 dBFS to 0..100.
    const db = 20 * Math.log10(Math.max(rms, 1e-6));
    const level = Math.round(Math.min(100, Math.max(0, ((db + 60) / 60) * 100)));
    fill.style.transform = `scaleX(${level / 100})`;
    const now = performance.now();
    if (now - lastAria > 500) {
      element.setAttribute('aria-valuenow', String(level));
      lastAria = now;
    }
  };

  const stop = (): void => {
    cancelAnimationFrame(frame);
    source?.disconnect();
    source = undefined;
    node = undefined;
    fill.style.transform = 'scaleX(0)';
    element.setAttribute('aria-valuenow', '0');
  };

  return {
    element,
    attach(track) {
      stop();
      if (track === undefined) return;
      ctx ??= new AudioContext();
      void ctx.resume().catch(() => undefined);
      node = analyser();
      if (node === undefined) return;
      source = ctx.createMediaStreamSource(new MediaStream([track]));
      source.connect(node);
      frame = requestAnimationFrame(tick);
    },
    close() {
      stop();
      void ctx?.close().catch(() => undefined);
      ctx = undefined;
    },
  };
}
