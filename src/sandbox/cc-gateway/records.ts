/**
 * The CC-Gateway emulator's recordings: ids shaped like the `fileName` of an `AgentMediaEvent_Record`
 * (`{drive}:/{VDN id}/{0 inbound | 1 outbound}/{yyyymmdd}/{agent id}/{ms}.V3`, reference/huawei/
 * ccfs-interface-reference-extract.txt and agentgateway-notes.md), served either as a RIFF WAV or as
 * headerless G.711 A-law bytes (what Huawei documents the recording to be; reference seed
 * huawei-cc-gateway-download-recordings.txt: "SaaS/OP: returned audio is G.711 A-law").
 */
import { contentOf, hash32, prng, sizeFor } from '../catalogue.js';

/** One recording of the emulator. Sizes in bytes. */
export interface CcRecording {
  /** The record path sent as `recordId`, e.g. `Y:/6/0/20161025/20011/1902050.V3`. */
  recordId: string;
  /** Node id (`locationId`); `0` when the gateway is not in CTI pool mode. */
  locationId: string;
  /** `1` agent call recording, `2` IVR or third-party voice message. */
  filetype: '1' | '2';
  callId: string;
  /** `wav`: a RIFF WAV body; `raw`: headerless A-law bytes. */
  format: 'wav' | 'raw';
  bytes: number;
}

/** A recording to put in the catalogue; every field but `recordId` has a default. */
export type CcRecordingSpec = Partial<CcRecording> & { recordId: string };

/** Builds `count` recordings (deterministic from `seed`), `rawRatio` of them headerless. */
export function makeCatalogue(
  count: number,
  opts: { seed: number; agentId: string; rawRatio: number; minBytes: number; maxBytes: number },
): CcRecording[] {
  const out: CcRecording[] = [];
  for (let i = 0; i < count; i++) {
    const day = 20161020 + (i % 7);
    const recordId = `Y:/6/${i % 2}/${day}/${opts.agentId}/${1902050 + i * 17}.V3`;
    const raw = hash32(`${opts.seed}:raw:${recordId}`) / 4294967296 < opts.rawRatio;
    out.push({
      recordId,
      locationId: '0',
      filetype: '1',
      callId: `1477${String(100000 + i)}-${i}`,
      format: raw ? 'raw' : 'wav',
      bytes: sizeFor(recordId, { seed: opts.seed, minBytes: opts.minBytes, maxBytes: opts.maxBytes }),
    });
  }
  return out;
}

/** Completes a spec with defaults. */
export function recordingOf(spec: CcRecordingSpec, seed: number): CcRecording {
  return {
    locationId: '0',
    filetype: '1',
    callId: `call-${hash32(`${seed}:call:${spec.recordId}`)}`,
    format: 'wav',
    bytes: sizeFor(spec.recordId, { seed }),
    ...spec,
  };
}

/** The exact bytes served for a recording (a WAV of `bytes` bytes, or `bytes` headerless A-law bytes). */
export function recordingBytes(rec: CcRecording, seed: number): Buffer {
  return rec.format === 'wav'
    ? contentOf({ id: rec.recordId, format: 'wav', bytes: rec.bytes }, seed)
    : alawTone(rec.recordId, rec.bytes, seed);
}

/** `bytes` samples of a seeded tone with noise, G.711 A-law encoded (8 kHz mono, one byte a sample). */
function alawTone(id: string, bytes: number, seed: number): Buffer {
  const rand = prng(hash32(`${seed}:alaw:${id}`));
  const period = 8 + Math.floor(rand() * 32);
  const buf = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) {
    const s = Math.round(Math.sin((2 * Math.PI * i) / period) * 12_000 + (rand() - 0.5) * 2000);
    buf[i] = linearToAlaw(s);
  }
  return buf;
}

/** ITU-T G.711 A-law encoding of one 16-bit linear sample (Sun g711.c `linear2alaw`). */
export function linearToAlaw(sample: number): number {
  let pcm = Math.max(-32768, Math.min(32767, Math.round(sample))) >> 3; // 13 bits
  let mask = 0xd5;
  if (pcm < 0) {
    mask = 0x55;
    pcm = -pcm - 1;
  }
  let seg = 0;
  while (seg < 8 && pcm > SEG_END[seg]!) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  const mantissa = seg < 2 ? (pcm >> 1) & 0x0f : (pcm >> seg) & 0x0f;
  return ((seg << 4) | mantissa) ^ mask;
}

const SEG_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
