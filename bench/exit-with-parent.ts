// Preloaded (node --require) into processes the bench starts without an IPC channel, e.g. the index server: they end when the bench does.

// The bench gives every child a stdin pipe it never writes to; the pipe closes when the bench exits,
// however it exits (even SIGKILL), and SIGTERM then lets the program shut down its own way.
process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.on('error', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.resume();
// Watching must not keep a process alive that has finished its work.
(process.stdin as unknown as { unref?: () => void }).unref?.();
