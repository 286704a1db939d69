"""Media helpers: ffmpeg command lines, child processes, ffprobe, the stall
watch, the transcode step. Imports nothing of domain, runtime or delivery."""
