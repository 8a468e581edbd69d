// Camera and microphone access, with failures sorted into what the user can do
// about them.

import {
  createLocalAudioTrack,
  createLocalVideoTrack,
  type LocalAudioTrack,
  type LocalVideoTrack,
  MediaDeviceFailure,
  Room,
  VideoPresets,
} from 'livekit-client';

export type DeviceKind = 'audioinput' | 'videoinput' | 'audiooutput';

/** Why a device could not be opened. */
export type DeviceProblem = 'denied' | 'missing' | 'busy' | 'unsupported' | 'failed';

export type Opened<T> = { ok: true; track: T } | { ok: false; problem: DeviceProblem };

const noun: Record<'audioinput' | 'videoinput', string> = { audioinput: 'microphone', videoinput: 'camera' };

/** problemMessage is the sentence shown to the user for a device problem. */
export function problemMessage(kind: 'audioinput' | 'videoinput', p: DeviceProblem): string {
  const n = noun[kind];
  switch (p) {
    case 'denied':
      return `The browser blocked the ${n}. To allow it, click the camera icon or the site settings in the address bar, allow the ${n}, then reload the page. You can also join without it.`;
    case 'missing':
      return `No ${n} was found. Plug one in and choose it below, or join without it.`;
    case 'busy':
      return `The ${n} is in use by another application or cannot be started. Close the other application and try again.`;
    case 'unsupported':
      return `This browser cannot use a ${n} on this page. Use a current Chromium or Firefox, over https or on localhost.`;
    case 'failed':
      return `The ${n} could not be started. Try another one.`;
  }
}

function classify(e: unknown): DeviceProblem {
  switch (MediaDeviceFailure.getFailure(e)) {
    case MediaDeviceFailure.PermissionDenied:
      return 'denied';
    case MediaDeviceFailure.NotFound:
      return 'missing';
    case MediaDeviceFailure.DeviceInUse:
      return 'busy';
    default:
      if (e instanceof DOMException && e.name === 'OverconstrainedError') return 'missing';
      return 'failed';
  }
}

function mediaAvailable(): boolean {
  return typeof navigator.mediaDevices?.getUserMedia === 'function';
}

/** Capture settings for the camera: 720p, which the SFU forwards as three simulcast layers. */
export const cameraResolution = VideoPresets.h720.resolution;

/** openCamera opens a camera (deviceId undefined = the default one). */
export async function openCamera(deviceId?: string): Promise<Opened<LocalVideoTrack>> {
  if (!mediaAvailable()) return { ok: false, problem: 'unsupported' };
  try {
    return { ok: true, track: await createLocalVideoTrack({ deviceId, resolution: cameraResolution }) };
  } catch (e) {
    return { ok: false, problem: classify(e) };
  }
}

/** openMicrophone opens a microphone with echo cancellation and noise suppression. */
export async function openMicrophone(deviceId?: string): Promise<Opened<LocalAudioTrack>> {
  if (!mediaAvailable()) return { ok: false, problem: 'unsupported' };
  try {
    return {
      ok: true,
      track: await createLocalAudioTrack({ deviceId, echoCancellation: true, noiseSuppression: true, autoGainControl: true }),
    };
  } catch (e) {
    return { ok: false, problem: classify(e) };
  }
}

export interface DeviceOption {
  id: string;
  label: string;
}

/** listDevices lists devices of a kind, with readable labels even before permission. */
export async function listDevices(kind: DeviceKind): Promise<DeviceOption[]> {
  let devices: MediaDeviceInfo[];
  try {
    devices = await Room.getLocalDevices(kind, false);
  } catch {
    return [];
  }
  const fallback = kind === 'audioinput' ? 'Microphone' : kind === 'videoinput' ? 'Camera' : 'Speaker';
  return devices
    .filter((d) => d.deviceId !== '')
    .map((d, i) => ({ id: d.deviceId, label: d.label || `${fallback} ${i + 1}` }));
}

/** canChooseSpeaker reports whether audio output can be chosen (setSinkId). */
export function canChooseSpeaker(): boolean {
  return 'setSinkId' in HTMLMediaElement.prototype;
}
