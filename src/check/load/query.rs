//! Running one load query: connect to an agent and read its line, or run a
//! command or nanny's program and read its output. Every input is bounded
//! in size and time: an endless line, a silent agent, a program that never
//! exits or floods its output all end as a failed query at `loadtimeout`,
//! the program's whole process group killed. A failed query changes no
//! weight (the caller keeps the last answer).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::{agent, nanny, AgentReply, LoadQuery, Reading};
use crate::check::probe::{spawn, GroupKill};
use crate::check::CheckError;
use crate::config::LoadMonitor;

/// The longest agent line read (HAProxy reads at most its buffer); longer
/// is an error, not a truncated answer.
pub const MAX_LINE: usize = 1024;

/// How much output of nanny's program is read at most: a pipe's worth
/// (nanny waited for the program's exit before it read, so one that wrote
/// more than a pipe holds never ended).
pub const MAX_PROGRAM_OUTPUT: usize = 64 * 1024;

/// Run `q` under its deadline.
pub async fn run(q: &LoadQuery) -> Result<Reading, CheckError> {
    match &q.monitor {
        LoadMonitor::None => Err(CheckError::Config("no load monitor".into())),
        LoadMonitor::Agent { port } => agent_query(SocketAddr::new(q.addr, *port), q.timeout)
            .await
            .map(Reading::Agent),
        LoadMonitor::Command(path) => command(path, q.addr, q.real_port, q.timeout)
            .await
            .map(Reading::Agent),
        LoadMonitor::Nanny(program) => nanny_load(program, q.addr, q.timeout)
            .await
            .map(Reading::Load),
    }
}

/// HAProxy's agent check: connect, send nothing, read one line.
pub async fn agent_query(addr: SocketAddr, timeout: Duration) -> Result<AgentReply, CheckError> {
    let work = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let line = read_line(&mut stream).await?;
        agent::parse(&line)
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(CheckError::Timeout))
}

/// The first line of `r`: up to the first `\n` or `\r`, or to the end of
/// the stream when it ends without one (HAProxy ignores such a line; a
/// program's `printf 50%` deserves an answer). Nothing at all, or
/// [`MAX_LINE`] bytes without an end of line, is an error.
pub async fn read_line<R: AsyncRead + Unpin>(r: &mut R) -> Result<String, CheckError> {
    let mut line = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            if line.is_empty() {
                return Err(silence());
            }
            break;
        }
        let end = chunk[..n].iter().position(|&b| b == b'\n' || b == b'\r');
        line.extend_from_slice(&chunk[..end.unwrap_or(n)]);
        if line.len() > MAX_LINE {
            return Err(CheckError::Protocol(format!(
                "no end of line in the first {MAX_LINE} bytes"
            )));
        }
        if end.is_some() {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// `command:PATH`: `PATH ADDRESS PORT` without a shell; it must exit 0
/// within the deadline, and the first line of its output is an agent line.
async fn command(
    path: &Path,
    addr: IpAddr,
    port: u16,
    timeout: Duration,
) -> Result<AgentReply, CheckError> {
    let args = [addr.to_string(), port.to_string()];
    let line = run_program(
        &path.to_string_lossy(),
        &args,
        timeout,
        |mut out| async move { read_line(&mut out).await },
    )
    .await?;
    agent::parse(&line)
}

/// `nanny:PROGRAM`: nanny's command line for the real, its output parsed
/// as nanny did.
async fn nanny_load(program: &str, addr: IpAddr, timeout: Duration) -> Result<f32, CheckError> {
    let argv = nanny::argv(program, &addr.to_string());
    let output = run_program(&argv[0], &argv[1..], timeout, |mut out| async move {
        let mut kept = Vec::new();
        let mut chunk = [0u8; 4096];
        let mut total = 0;
        loop {
            let n = out.read(&mut chunk).await?;
            if n == 0 {
                return Ok(kept);
            }
            total += n;
            if total > MAX_PROGRAM_OUTPUT {
                return Err(CheckError::Protocol(format!(
                    "more than {MAX_PROGRAM_OUTPUT} bytes of output"
                )));
            }
            let room = nanny::MAX_OUTPUT.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..n.min(room)]);
        }
    })
    .await?;
    nanny::parse_load(&output).ok_or_else(|| {
        let text = String::from_utf8_lossy(&output);
        let shown: String = text.trim_end().chars().take(80).collect();
        CheckError::Protocol(format!("bad load average returned: \"{shown}\""))
    })
}

/// Run `program args…` (PATH lookup for a bare name, as execvp; no shell)
/// in its own process group, stdin and stderr on /dev/null, and give its
/// stdout to `read`; then wait for it to exit 0. All within `timeout`: at
/// the deadline the group is killed and reaped. Returns what `read` gave
/// once the program has exited 0.
async fn run_program<T, F, Fut>(
    program: &str,
    args: &[String],
    timeout: Duration,
    read: F,
) -> Result<T, CheckError>
where
    F: FnOnce(tokio::process::ChildStdout) -> Fut,
    Fut: std::future::Future<Output = Result<T, CheckError>>,
{
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = spawn(&mut command)
        .await
        .map_err(|e| CheckError::Config(format!("cannot run {program}: {e}")))?;
    let guard = GroupKill::of(&child);
    let stdout = child.stdout.take().expect("stdout is piped");
    let work = async {
        // Stop reading at the answer: the program gets EPIPE if it writes
        // on, and cannot block us by not writing.
        let answer = read(stdout).await;
        (answer, child.wait().await)
    };
    let outcome = tokio::time::timeout(timeout, work).await;
    let (answer, status) = match outcome {
        Ok(done) => done,
        Err(_) => {
            guard.end(&mut child).await;
            return Err(CheckError::Timeout);
        }
    };
    guard.disarm();
    let status = status?;
    let failed = || {
        use std::os::unix::process::ExitStatusExt;
        Err(CheckError::Status(match (status.code(), status.signal()) {
            (Some(code), _) => format!("{program} exited with status {code}"),
            (None, Some(sig)) => format!("{program} killed by signal {sig}"),
            _ => format!("{program}: {status}"),
        }))
    };
    match answer {
        Ok(a) if status.success() => Ok(a),
        Ok(_) => failed(),
        // It said nothing: its exit status says why, if it failed.
        Err(e) if e == silence() && !status.success() => failed(),
        // An answer we gave up on (too long, garbage): the program's end
        // (often SIGPIPE, as we stopped reading) follows from it.
        Err(e) => Err(e),
    }
}

fn silence() -> CheckError {
    CheckError::Protocol("closed without answering".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::load::{Admin, LoadWeight};
    use std::time::Instant;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// An agent on loopback that does `serve` with each connection.
    async fn fake_agent<F, Fut>(serve: F) -> SocketAddr
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(serve(s));
            }
        });
        addr
    }

    async fn says(text: &'static [u8]) -> SocketAddr {
        fake_agent(move |mut s| async move {
            let _ = s.write_all(text).await;
        })
        .await
    }

    const T: Duration = Duration::from_millis(400);

    #[tokio::test]
    async fn an_agent_answers_one_line() {
        let r = agent_query(says(b"up 75%\r\nignored\n").await, T)
            .await
            .unwrap();
        assert_eq!(r.weight, Some(LoadWeight::Percent(75)));
        let r = agent_query(says(b"drain").await, T).await.unwrap();
        assert_eq!(r.admin, Some(Admin::Drain), "a line ended by the close");
        // A line written in pieces.
        let addr = fake_agent(|mut s| async move {
            for part in [&b"ma"[..], b"int 2", b"0%\n"] {
                let _ = s.write_all(part).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        let r = agent_query(addr, T).await.unwrap();
        assert_eq!(
            (r.admin, r.weight),
            (Some(Admin::Maint), Some(LoadWeight::Percent(20)))
        );
    }

    #[tokio::test]
    async fn hostile_agents_fail_the_query_in_bounded_time() {
        // Silent: holds the connection, says nothing.
        let silent = fake_agent(|s| async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(s);
        })
        .await;
        let t0 = Instant::now();
        assert_eq!(agent_query(silent, T).await, Err(CheckError::Timeout));
        assert!(t0.elapsed() < T + Duration::from_millis(300));
        // Endless: a line that never ends, as fast as it can.
        let endless = fake_agent(|mut s| async move {
            let junk = [b'7'; 4096];
            while s.write_all(&junk).await.is_ok() {}
        })
        .await;
        let e = agent_query(endless, T).await.unwrap_err();
        assert_eq!(
            e,
            CheckError::Protocol(format!("no end of line in the first {MAX_LINE} bytes"))
        );
        // Endless and slow: one byte at a time, never a newline.
        let trickle = fake_agent(|mut s| async move {
            while s.write_all(b"5").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert_eq!(agent_query(trickle, T).await, Err(CheckError::Timeout));
        // Closes at once.
        let e = agent_query(says(b"").await, T).await.unwrap_err();
        assert_eq!(e, CheckError::Protocol("closed without answering".into()));
        // Garbage.
        assert!(matches!(
            agent_query(says(b"HTTP/1.1 400 Bad Request\r\n").await, T).await,
            Err(CheckError::Protocol(_))
        ));
        // Nobody listening.
        let gone = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        assert_eq!(agent_query(gone, T).await, Err(CheckError::Refused));
    }

    /// A script in a fresh directory, executable.
    fn script(name: &str, body: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ldrs-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn q(monitor: LoadMonitor) -> LoadQuery {
        LoadQuery {
            monitor,
            addr: "192.0.2.7".parse().unwrap(),
            real_port: 8080,
            timeout: T,
        }
    }

    #[tokio::test]
    async fn a_command_gets_address_and_port_and_answers_in_the_agent_protocol() {
        let p = script(
            "args",
            r#"[ "$1 $2" = "192.0.2.7 8080" ] && echo "drain 40%" || echo wrong"#,
        );
        let r = run(&q(LoadMonitor::Command(p))).await.unwrap();
        let Reading::Agent(r) = r else { panic!() };
        assert_eq!(
            (r.admin, r.weight),
            (Some(Admin::Drain), Some(LoadWeight::Percent(40)))
        );
        // No newline at all.
        let p = script("printf", "printf %s 60%");
        assert!(matches!(
            run(&q(LoadMonitor::Command(p))).await,
            Ok(Reading::Agent(_))
        ));
    }

    #[tokio::test]
    async fn a_command_that_fails_hangs_or_floods_fails_the_query() {
        let p = script("exit1", "echo 50%; exit 1");
        let e = run(&q(LoadMonitor::Command(p.clone()))).await.unwrap_err();
        assert_eq!(
            e,
            CheckError::Status(format!("{} exited with status 1", p.display()))
        );
        // Hangs after its answer, with a child of its own: the group dies.
        let pidfile =
            std::env::temp_dir().join(format!("ldrs-load-{}-sleep.pid", std::process::id()));
        let p = script(
            "hang",
            &format!("echo 50%; sleep 30 & echo $! > {}; wait", pidfile.display()),
        );
        let t0 = Instant::now();
        assert_eq!(
            run(&q(LoadMonitor::Command(p))).await,
            Err(CheckError::Timeout)
        );
        assert!(
            t0.elapsed() < T + Duration::from_millis(800),
            "{:?}",
            t0.elapsed()
        );
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Gone, or a zombie waiting for whoever reaps orphans here.
        std::thread::sleep(Duration::from_millis(100));
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = state.rsplit(") ").next().and_then(|s| s.chars().next());
        assert!(
            matches!(state, None | Some('Z')),
            "the script's child lives: {state:?}"
        );
        // An endless line.
        let p = script("flood", "while :; do printf 7777777777; done");
        assert!(matches!(
            run(&q(LoadMonitor::Command(p))).await,
            Err(CheckError::Protocol(_) | CheckError::Timeout)
        ));
        // Silent.
        let p = script("silent", "exit 0");
        assert_eq!(
            run(&q(LoadMonitor::Command(p))).await,
            Err(CheckError::Protocol("closed without answering".into()))
        );
        // Missing.
        assert!(matches!(
            run(&q(LoadMonitor::Command("/nonexistent/ldrs".into()))).await,
            Err(CheckError::Config(_))
        ));
    }

    #[tokio::test]
    async fn nanny_runs_its_program_with_the_address_and_reads_the_load() {
        let p = script(
            "getload",
            r#"[ "$#" = 1 ] && [ "$1" = 192.0.2.7 ] && echo " 10:00  up 1 day,  load average: 0.42, 0.30, 0.20""#,
        );
        let r = run(&q(LoadMonitor::Nanny(p.display().to_string()))).await;
        assert_eq!(r, Ok(Reading::Load(0.42)));
        let p = script("badload", "echo 'load average: 0.5'");
        let e = run(&q(LoadMonitor::Nanny(p.display().to_string())))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            CheckError::Protocol("bad load average returned: \"load average: 0.5\"".into())
        );
        // Exits non-zero: no load, whatever it printed.
        let p = script("fails", "echo 'load average: 0.10, 0.1, 0.1'; exit 3");
        assert!(matches!(
            run(&q(LoadMonitor::Nanny(p.display().to_string()))).await,
            Err(CheckError::Status(_))
        ));
        // More output than nanny reads: the first 4095 bytes count.
        let p = script(
            "long",
            "echo 'load: 0.25, 1'; i=0; while [ $i -lt 300 ]; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done",
        );
        assert_eq!(
            run(&q(LoadMonitor::Nanny(p.display().to_string()))).await,
            Ok(Reading::Load(0.25))
        );
    }

    #[tokio::test]
    async fn rsh_is_run_through_the_path_with_uptime() {
        // A fake `rsh` first in PATH is what nanny:rsh runs.
        let p = script(
            "rsh",
            r#"[ "$1 $2" = "192.0.2.7 uptime" ] && echo 'load average: 1.50, 1, 1'"#,
        );
        let dir = p.parent().unwrap().display().to_string();
        let argv = nanny::argv("rsh", "192.0.2.7");
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("PATH={dir}:$PATH; exec \"$@\""))
            .arg("sh")
            .args(&argv)
            .output()
            .await
            .unwrap();
        assert_eq!(nanny::parse_load(&out.stdout), Some(1.5));
    }
}
