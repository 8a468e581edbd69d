// Recording is a member's own act (issue "Web app"): this browser records
// the meeting's audio as it hears it (every participant's microphone, its
// own included) with MediaRecorder, and the file stays on this device. The
// meeting announces it to every member (an MLS application message) and
// shows a banner while it runs; security-mls.ts does the announcing.

import { type Room, RoomEvent, Track, type RemoteTrack } from 'livekit-client';

export interface MeetingRecording {
  /** stop ends the recording and resolves to the file (audio/webm). */
  stop(): Promise<Blob>;
}

/** startRecording mixes every audio track of the room and records the mix. */
export function startRecording(room: Room): MeetingRecording {
  const ctx = new AudioContext();
  const dest = ctx.createMediaStreamDestination();
  const connected = new Map<MediaStreamTrack, MediaStreamAudioSourceNode>();
  const add = (t: MediaStreamTrack | undefined): void => {
    if (t === undefined || t.kind !== 'audio' || connected.has(t)) return;
    const src = ctx.createMediaStreamSource(new MediaStream([t]));
    src.connect(dest);
    connected.set(t, src);
  };
  const addAll = (): void => {
    for (const p of [room.localParticipant, ...room.remoteParticipants.values()]) {
      for (const pub of p.audioTrackPublications.values()) add(pub.track?.mediaStreamTrack);
    }
  };
  const onSubscribed = (track: RemoteTrack): void => {
    if (track.kind === Track.Kind.Audio) add(track.mediaStreamTrack);
  };
  addAll();
  room.on(RoomEvent.TrackSubscribed, onSubscribed).on(RoomEvent.LocalTrackPublished, addAll);
  const chunks: Blob[] = [];
  const rec = new MediaRecorder(dest.stream, MediaRecorder.isTypeSupported('audio/webm;codecs=opus') ? { mimeType: 'audio/webm;codecs=opus' } : {});
  rec.ondataavailable = (ev) => {
    if (ev.data.size > 0) chunks.push(ev.data);
  };
  rec.start(1000);
  void ctx.resume();
  return {
    stop() {
      room.off(RoomEvent.TrackSubscribed, onSubscribed).off(RoomEvent.LocalTrackPublished, addAll);
      return new Promise<Blob>((resolve) => {
        rec.onstop = () => {
          for (const s of connected.values()) s.disconnect();
          void ctx.close();
          resolve(new Blob(chunks, { type: rec.mimeType || 'audio/webm' }));
        };
        if (rec.state === 'inactive') rec.onstop(new Event('stop'));
        else rec.stop();
      });
    },
  };
}
