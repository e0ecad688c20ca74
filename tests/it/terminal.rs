//! The console as a person meets it at a terminal (a pseudo-terminal here): Ctrl-C and Ctrl-D
//! quit at once and leave the shell's prompt on a line of its own; no log line lands on the
//! prompt; answers are wrapped to the terminal's width and carry no Discord markup.

use crate::common;

use std::process::Command;

/// Runs `dsr-bot ARGS` on a pseudo-terminal 60 columns wide, types `lines` after each prompt,
/// then `finish` (a control key); returns (exit code, seconds from `finish` to exit, output).
fn at_terminal(args: &[&str], lines: &[&str], finish: &str) -> (i32, f64, String) {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import fcntl, json, os, pty, select, struct, sys, termios, time
argv, lines, finish = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(sys.stdout.fileno(), termios.TIOCSWINSZ, struct.pack('HHHH', 30, 60, 0, 0))
    os.execv(argv[0], argv)
out = b''
def read_until(marker, timeout):
    global out
    end = time.time() + timeout
    while marker not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                return
prompts = 1
read_until(b'dsr-bot> ', 60)
for line in lines:
    os.write(fd, line.encode() + b'\r')
    prompts += 1
    while out.count(b'dsr-bot> ') < prompts:
        before = len(out)
        read_until(b'\xff', 0.2)
        if len(out) == before and out.count(b'dsr-bot> ') < prompts:
            read_until(b'dsr-bot> ', 30)
            break
time.sleep(0.3)
os.write(fd, finish.encode().decode('unicode_escape').encode())
t = time.time()
status = None
while status is None and time.time() < t + 20:
    p, s = os.waitpid(pid, os.WNOHANG)
    if p:
        status = s
    read_until(b'\xff', 0.05)
took = time.time() - t
code = os.waitstatus_to_exitcode(status) if status is not None else -999
read_until(b'\xff', 0.3)
sys.stdout.write(json.dumps({'code': code, 'took': took, 'out': out.decode('utf-8', 'replace')}))
"#;
    let mut argv = vec![common::program().display().to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(serde_json::to_string(&argv).unwrap())
        .arg(serde_json::to_string(lines).unwrap())
        .arg(finish)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "the terminal script failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        v["code"].as_i64().unwrap() as i32,
        v["took"].as_f64().unwrap(),
        v["out"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn ctrl_c_and_ctrl_d_quit_the_console_at_once_and_logs_stay_off_the_prompt() {
    for (args, key) in [
        (vec!["run", "--user", "pat"], "\\x03"),
        (vec!["run", "--user", "pat"], "\\x04"),
        (vec!["console", "--user", "pat"], "\\x03"),
        (vec!["console", "--user", "pat"], "\\x04"),
    ] {
        let (code, took, out) = at_terminal(&args, &["/optout", "/privacy"], key);
        let what = format!("{args:?} {key}");
        assert_eq!(code, 0, "{what}: {out}");
        assert!(took < 3.0, "{what} took {took:.1} s to stop");
        assert!(
            out.contains("opt-out request #1 is recorded"),
            "{what}: {out}"
        );
        let mut in_receipt = false;
        for line in out.lines() {
            assert!(
                !line.contains(" INFO ") && !line.contains(" WARN "),
                "{what}: a log line reached the terminal: {line}"
            );
            // A signed receipt is shown byte for byte, whatever the width.
            in_receipt |= line == dsr_bot::proof::receipt::FORM;
            // A word longer than the line (the public key) stands on a line of its own.
            let one_word = !line.trim().contains(' ');
            assert!(
                in_receipt || one_word || line.chars().count() <= 60 + 9,
                "{what}: not wrapped: {line}"
            );
            in_receipt &= !line.starts_with("— ");
        }
        assert!(!out.contains("**"), "{what}: Discord markup: {out}");
        // The shell's prompt that follows starts on a line of its own.
        assert!(out.ends_with('\n'), "{what}: {out:?}");
    }
}
