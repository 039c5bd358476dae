import { execFileSync } from "node:child_process";

/**
 * Two seconds of 160x120 H.264 (a key frame every second) as fragmented MP4, written by ffmpeg to a pipe exactly as
 * live view has it write (`-movflags +frag_keyframe+empty_moov+default_base_moof pipe:1`).
 */
export function sampleFmp4(): Buffer {
  const args = ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2"];
  args.push(
    "-c:v",
    "libx264",
    "-g",
    "10",
    "-pix_fmt",
    "yuv420p",
    "-f",
    "mp4",
    "-movflags",
    "+frag_keyframe+empty_moov+default_base_moof",
    "pipe:1",
  );
  return execFileSync("ffmpeg", args, { stdio: ["ignore", "pipe", "inherit"], maxBuffer: 16 << 20 });
}
