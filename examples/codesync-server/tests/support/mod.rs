//! Starting the `codesync-server` binary in tests: it prints its bound address on stdout.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Spawns `command` (the server binary with its flags and stderr set) and reads its banner.
/// Returns the process and its `host:port`, or the banner line when it names no address
/// (the process is then killed).
pub(crate) fn start_server(mut command: Command) -> Result<(Child, String), String> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn codesync-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the banner");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned);
    match addr {
        Some(addr) => Ok((child, addr)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(line)
        }
    }
}
