// The name of the user running this process, which the terminal peer and the extension offer as the default peer name.
import * as os from 'node:os';

/** The OS user name, or undefined when this process has none. */
export function osUserName(): string | undefined {
  try {
    return os.userInfo().username || undefined;
  } catch {
    // Containers may run under a uid with no passwd entry.
    return process.env.USER || process.env.USERNAME || process.env.LOGNAME || undefined;
  }
}
